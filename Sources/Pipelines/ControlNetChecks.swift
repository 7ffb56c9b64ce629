import Foundation
import Imaging

extension RenderRequest {
    /// Refuses ControlNets that do not fit `model` (the base), from the configs alone, as a render
    /// will: checked before a job is enqueued so that a bad ControlNet is one line, nothing queued.
    public func checkControlNets(model: ModelReference) throws {
        guard let base = StagePlan.stages(for: self, model: model).first else { return }
        try ControlStage.checkFits(controlnet, base: base.model)
    }
}

extension InputFiles {
    /// The control images from their stored bytes, in the request's order (each with a name for messages).
    public static func decodeControlImages(_ files: [(data: Data, name: String)]) throws -> [RGBImage] {
        try files.map { try ImageFile.read(data: $0.data, name: $0.name) }
    }
}
