import Foundation
import KilnBasics

/// What is recorded with every image: the request, the resolved values diffusers would use,
/// each stage's model identity and schedule, and the watermark bits. The `parameters` text
/// follows A1111's infotext, which image viewers and sharing sites read.
public struct Provenance: Sendable, Codable {
    /// The version recorded in provenance and reported by `kiln --version`.
    public static let currentVersion = "0.2.0"

    public var kilnVersion: String
    public var request: RenderRequest
    public var width: Int
    public var height: Int
    /// The first stage's scheduler (all stages use the same kind unless a model's config differs).
    public var scheduler: String
    public var schedulerClass: String
    public var seed: UInt64
    public var imageIndex: Int
    public var model: String
    public var modelHash: String
    /// "text-to-image", "image-to-image" or "inpainting", with " + refiner" when one ran.
    public var mode: String?
    /// The effective image-to-image strength of the first stage (nil for text-to-image).
    public var strength: Double?
    /// The guidance scale used (the request's, or the mode's default).
    public var guidance: Float?
    public var refiner: String?
    public var refinerHash: String?
    public var stages: [StageRecord]?
    public var watermarkBits: String?
    public var seconds: Double?
    /// The model's scheduler_config.json values the scheduler was built from (JSON text).
    public var schedulerConfig: String?
    /// Seconds per denoising step, when measured (queue renders).
    public var stepSeconds: [Double]?
    /// The instruction sets and OpenBLAS cores that computed the image (one entry unless a job
    /// was resumed on a different kind of machine): all that can make another machine's pixels
    /// differ. The thread count cannot, and is not recorded.
    public var platforms: [PlatformRecord]?
    /// The Hugging Face Hub repo id and commit of the model (and refiner) when it was rendered
    /// from a snapshot folder of the Hub cache (given as `org/name[@revision]`); nil, and not
    /// written, otherwise. `modelHash` stays the hash of the files' content.
    public var modelRepo: String?
    public var modelCommit: String?
    public var refinerRepo: String?
    public var refinerCommit: String?
    /// The content hash of each ControlNet (`request.controlnet.models`' order); nil without ControlNet.
    public var controlnetHashes: [String]?

    /// The JSON keys, written out: stored provenance (outputs, PNG "kiln" chunks) and the
    /// queue's views (`$.modelHash`, `$.schedulerConfig`, ...) read these names, so renaming a
    /// property must not rename its key.
    enum CodingKeys: String, CodingKey {
        case kilnVersion = "kilnVersion", request = "request", width = "width", height = "height"
        case scheduler = "scheduler", schedulerClass = "schedulerClass", seed = "seed", imageIndex = "imageIndex"
        case model = "model", modelHash = "modelHash", mode = "mode", strength = "strength", guidance = "guidance"
        case refiner = "refiner", refinerHash = "refinerHash", stages = "stages", watermarkBits = "watermarkBits"
        case seconds = "seconds", schedulerConfig = "schedulerConfig", stepSeconds = "stepSeconds", platforms = "platforms"
        case modelRepo = "modelRepo", modelCommit = "modelCommit", refinerRepo = "refinerRepo", refinerCommit = "refinerCommit"
        case controlnetHashes = "controlnetHashes"
    }

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
        var fields = ["Steps: \(request.steps)", "Sampler: \(scheduler)", "CFG scale: \(request.effectiveGuidance)",
                      "Seed: \(seed)", "Size: \(width)x\(height)", "Model hash: \(modelHash)", "Model: \(modelRepo ?? model)"]
        if let e = request.eta { fields.append("Eta: \(e)") }
        if let c = SchedulerOverrides.text(request.schedulerConfig) { fields.append("Scheduler config: \"\(c)\"") }
        if let t = request.timesteps { fields.append("Timesteps: \"\(t.map(String.init).joined(separator: ","))\"") }
        if let s = request.sigmas { fields.append("Sigmas: \"\(s.map { ParameterValue.number($0).description }.joined(separator: ","))\"") }
        if let s = strength { fields.append("Denoising strength: \(s)") }
        if request.guidanceRescale > 0 { fields.append("Guidance rescale: \(request.guidanceRescale)") }
        if let c = request.clipSkip { fields.append("Clip skip: \(c)") }
        if request.promptWeighting != .none { fields.append("Prompt weighting: \(request.promptWeighting.rawValue)") }
        if request.images > 1 { fields.append("Batch index: \(imageIndex)") }
        if let r = refiner {
            fields.append("Refiner: \((r as NSString).lastPathComponent)" + (refinerHash.map { " [\($0)]" } ?? ""))
            if let f = request.highNoiseFrac { fields.append("Refiner switch at: \(f)") }
            if request.refineAfter { fields.append("Refiner strength: \(request.refinerStrength)") }
        }
        if let m = mode, m != "text-to-image" { fields.append("Mode: \(m)") }
        if !request.loras.isEmpty { fields.append("Lora hashes: \"\(request.loras.map(\.infotext).joined(separator: ", "))\"") }
        if let vae = request.vae { fields.append("VAE: \(vae.name)"); fields.append("VAE hash: \(vae.sha256.prefix(10))") }
        if let unet = request.unet { fields.append("UNet: \(unet.infotext)") }
        if let v = request.variant { fields.append("Variant: \(v.rawValue)") }
        fields += controlNetFields
        if !request.embeddings.isEmpty { fields.append("TI hashes: \"\(request.embeddings.map(\.infotext).joined(separator: ", "))\"") }
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

extension Provenance {
    /// The PNG parameters' ControlNet entries, as the A1111 ControlNet extension writes them:
    /// `ControlNet 0: "Model: name [hash], Image: file, Weight: 0.8, Guidance Start: 0.0, Guidance End: 1.0"`.
    var controlNetFields: [String] {
        let c = request.controlnet
        return c.models.indices.map { i in
            let name = (c.models[i] as NSString).lastPathComponent
            let hash = controlnetHashes.flatMap { i < $0.count ? " [\($0[i])]" : nil } ?? ""
            let image = i < c.images.count ? ((c.images[i].file ?? c.images[i].sha256) as NSString).lastPathComponent : "?"
            var parts = ["Model: \(name)\(hash)", "Image: \(image)", "Weight: \(c.scale(i, imageToImage: mode?.hasPrefix("image-to-image") ?? false))", "Guidance Start: \(c.start(i))",
                         "Guidance End: \(c.end(i))"]
            if c.guessMode { parts.append("Guess Mode: True") }
            return "ControlNet \(i): \"\(parts.joined(separator: ", "))\""
        }
    }
}
