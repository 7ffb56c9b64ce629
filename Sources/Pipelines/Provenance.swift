import Foundation
import Schedulers

/// What is recorded with every image: the request, the resolved values diffusers would use,
/// the model identity and the watermark bits.
public struct Provenance: Sendable, Codable {
    /// The version recorded in provenance and reported by `kiln --version`.
    public static let currentVersion = "0.1.0"

    public var kilnVersion: String
    public var request: RenderRequest
    public var width: Int
    public var height: Int
    public var scheduler: String
    public var schedulerClass: String
    public var seed: UInt64
    public var imageIndex: Int
    public var model: String
    public var modelHash: String
    public var watermarkBits: String?
    public var seconds: Double?
    /// The model's scheduler_config.json values the scheduler was built from (JSON text).
    public var schedulerConfig: String?
    /// Seconds per denoising step, when measured (queue renders).
    public var stepSeconds: [Double]?

    public init(kilnVersion: String, request: RenderRequest, width: Int, height: Int, scheduler: String, schedulerClass: String,
                seed: UInt64, imageIndex: Int, model: String, modelHash: String, watermarkBits: String?, seconds: Double?) {
        self.kilnVersion = kilnVersion; self.request = request; self.width = width; self.height = height
        self.scheduler = scheduler; self.schedulerClass = schedulerClass; self.seed = seed; self.imageIndex = imageIndex
        self.model = model; self.modelHash = modelHash; self.watermarkBits = watermarkBits; self.seconds = seconds
    }

    /// The widely read "parameters" text: prompt, "Negative prompt: ...", then "Steps: ..., Sampler: ...".
    public var parametersText: String {
        var lines = [request.prompt]
        if let n = request.negativePrompt, !n.isEmpty { lines.append("Negative prompt: \(n)") }
        var fields = ["Steps: \(request.steps)", "Sampler: \(scheduler)", "CFG scale: \(request.guidance)",
                      "Seed: \(seed)", "Size: \(width)x\(height)", "Model hash: \(modelHash)", "Model: \(model)"]
        if request.guidanceRescale > 0 { fields.append("Guidance rescale: \(request.guidanceRescale)") }
        if let c = request.clipSkip { fields.append("Clip skip: \(c)") }
        if request.images > 1 { fields.append("Batch index: \(imageIndex)") }
        fields.append("Version: kiln \(kilnVersion)")
        lines.append(fields.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    /// The PNG text chunks: "parameters" and the full JSON as "kiln".
    public var textChunks: [(key: String, value: String)] { [("parameters", parametersText), ("kiln", json())] }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}
