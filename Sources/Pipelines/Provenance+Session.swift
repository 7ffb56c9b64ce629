import Foundation
import ModelFiles
import Numerics
import Schedulers

extension Provenance {
    /// The record of image `imageIndex` of a finished session.
    public init(session: RenderSession, imageIndex: Int, seconds: Double?) {
        let stages = session.records
        let first = stages.first
        let size = session.outputSize
        let bits = session.request.watermark && session.size.width >= 256 ? String(InvisibleWatermark.sdxlMessage, radix: 16) : nil
        self.init(kilnVersion: Provenance.currentVersion, request: session.request, width: size.width, height: size.height,
                  scheduler: first?.scheduler ?? session.schedulerKind.rawValue,
                  schedulerClass: first?.schedulerClass ?? session.schedulerKind.diffusersClass,
                  seed: session.request.seed, imageIndex: imageIndex, model: first?.model ?? "", modelHash: first?.modelHash ?? "",
                  watermarkBits: bits, seconds: seconds)
        let refinerStage = stages.first { $0.role == StagePlan.Role.refiner.rawValue }
        mode = (first?.mode ?? "text-to-image") + (refinerStage == nil ? "" : " + refiner")
        strength = first?.strength
        guidance = session.request.effectiveGuidance
        refiner = refinerStage?.model
        refinerHash = refinerStage?.modelHash
        self.stages = stages
        schedulerConfig = session.stageSchedulerConfigJSON
        platforms = session.platforms
        let hubModel = first.flatMap { HubSnapshot(path: $0.model) }, hubRefiner = refiner.flatMap { HubSnapshot(path: $0) }
        modelRepo = hubModel?.repo; modelCommit = hubModel?.commit
        refinerRepo = hubRefiner?.repo; refinerCommit = hubRefiner?.commit
        controlnetHashes = session.controlNetHashes
    }
}

extension RenderSession {
    /// The first stage's scheduler config as JSON text.
    var stageSchedulerConfigJSON: String? {
        shapes.first.map { StageModel.json($0.schedulerConfig) }
    }
}
