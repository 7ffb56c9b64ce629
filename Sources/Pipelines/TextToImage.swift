import Foundation
import Imaging
import Models
import ModelFiles
import Numerics
import Schedulers

/// Where a render is between steps: the latents, the scheduler's state, the generator and the
/// index of the next step. Plain values: a render saved after any step continues bit-identically.
public struct DenoiseState: Sendable, Codable {
    public var latents: StoredTensor
    public var scheduler: SchedulerState
    public var generator: TorchGenerator
    public var nextStep: Int
    public var totalSteps: Int
}

/// What a finished render gives back.
public enum RenderOutput: Sendable {
    /// 8-bit RGB images (after the watermark when it is on).
    case images([RGBImage])
    /// Latents when `denoisingEnd` stopped early (channels-last `[images, h, w, 4]`).
    case latents(Tensor)
}

/// diffusers' `StableDiffusionXLPipeline` on the CPU: models loaded once, then any number of
/// renders. `begin` prepares a render, `advance` runs one step, `finish` decodes; `render` does
/// all three with a progress callback and cancellation.
public final class TextToImagePipeline: @unchecked Sendable {
    public let files: SDXLModelFiles
    public let prompts: PromptEncoder
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    public let schedulerConfig: ConfigFile
    public let defaultScheduler: SchedulerKind
    let projectionDim: Int

    public init(files: SDXLModelFiles) throws {
        self.files = files
        var pairs: [PromptEncoder.Pair] = []
        let names = Set(files.components.map(\.name))
        if names.contains("text_encoder") {
            pairs.append(.init(tokenizer: try files.tokenizer("tokenizer"), encoder: try files.textEncoder("text_encoder")))
        }
        let second = PromptEncoder.Pair(tokenizer: try files.tokenizer("tokenizer_2"), encoder: try files.textEncoder("text_encoder_2"))
        pairs.append(second)
        projectionDim = second.encoder.config.projectionDim
        let force: Bool
        if case .folder(let folder) = files.layout {
            force = try folder.options.bool("force_zeros_for_empty_prompt", default: true)
        } else {
            force = true
        }
        prompts = PromptEncoder(pairs: pairs, forceZerosForEmptyPrompt: force)
        unet = try files.unet()
        vae = try files.vae()
        schedulerConfig = try files.config("scheduler")
        let cls = (try? schedulerConfig.string("_class_name")) ?? "EulerDiscreteScheduler"
        defaultScheduler = SchedulerKind.allCases.first { $0.diffusersClass == cls && $0 != .dpmpp2mKarras } ?? .euler
        let ids = unet.config.timeIDCount(pooledDim: projectionDim)
        guard ids == 6 else {
            throw RenderError.model("\(files.path): this UNet takes \(ids) micro-conditioning values; text-to-image needs a base model (6), not a refiner")
        }
    }

    public var vaeScale: Int { vae.config.downscaleFactor }

    /// The scheduler config as JSON text, for provenance.
    public var schedulerConfigJSON: String {
        func plain(_ v: any Sendable) -> Any {
            if let a = v as? [any Sendable] { return a.map(plain) }
            if let d = v as? [String: any Sendable] { return d.mapValues(plain) }
            if v is String || v is Double || v is Bool { return v }
            return NSNull()
        }
        let object = schedulerConfig.values.mapValues(plain)
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The size diffusers would use: the request's, or the UNet's sample size times the VAE factor.
    public func size(for request: RenderRequest) -> PixelSize {
        PixelSize(width: request.width ?? unet.config.sampleSize * vaeScale, height: request.height ?? unet.config.sampleSize * vaeScale)
    }

    /// Per-render values that stay fixed over the steps.
    public struct Prepared: Sendable {
        public let request: RenderRequest
        public let size: PixelSize
        public let conditioning: UNetConditioning
        public let guidance: Bool
        public let schedulerKind: SchedulerKind
        public let timesteps: [Float]
    }

    public func prepare(_ request: RenderRequest) throws -> Prepared {
        try request.validate()
        let size = size(for: request)
        guard size.width % vaeScale == 0, size.height % vaeScale == 0 else {
            throw RenderError.invalid(parameter: "width/height", reason: "must be multiples of \(vaeScale)")
        }
        let guidance = request.guidance > 1
        let embeds = try prompts.encode(request, guidance: guidance)
        let n = request.images
        func repeated(_ t: Tensor) -> [Tensor] { Array(repeating: t, count: n) }
        let hidden = Tensor.concatenateBatch((guidance ? repeated(embeds.negative!) : []) + repeated(embeds.positive))
        let pooled = Tensor.concatenateBatch((guidance ? repeated(embeds.negativePooled!) : []) + repeated(embeds.pooled))
        let positiveIDs = TimeIDs.base(original: request.originalSize ?? size, crop: request.cropTopLeft, target: request.targetSize ?? size)
        var negativeIDs = positiveIDs
        if let o = request.negativeOriginalSize, let t = request.negativeTargetSize {
            negativeIDs = TimeIDs.base(original: o, crop: request.negativeCropTopLeft, target: t)
        }
        let rows = TimeIDs.batchRows(positive: positiveIDs, negative: negativeIDs, images: n, guidance: guidance)
        let conditioning = UNetConditioning(encoderHiddenStates: hidden, textEmbeds: pooled, timeIDs: rows)
        let kind = request.scheduler ?? defaultScheduler
        var timesteps = try kind.make(config: schedulerConfig, steps: request.steps).timesteps
        if let end = request.denoisingEnd {
            let train = (try? schedulerConfig.int("num_train_timesteps", default: 1000)) ?? 1000
            let cutoff = Float(Int((Double(train) - end * Double(train)).rounded(.toNearestOrEven)))
            timesteps = Array(timesteps.prefix { $0 >= cutoff })
        }
        return Prepared(request: request, size: size, conditioning: conditioning, guidance: guidance, schedulerKind: kind, timesteps: timesteps)
    }

    /// The starting state: seeded Gaussian latents (drawn in torch's NCHW order) times the
    /// scheduler's initial noise sigma.
    public func begin(_ p: Prepared) throws -> DenoiseState {
        let scheduler = try p.schedulerKind.make(config: schedulerConfig, steps: p.request.steps)
        var generator = TorchGenerator(seed: p.request.seed)
        let shape = [p.request.images, unet.config.inChannels, p.size.height / vaeScale, p.size.width / vaeScale]
        let sigma = scheduler.initNoiseSigma
        let noise = generator.randn(shape)
        let latents = noise.nchwToNHWC().scaled(by: sigma)
        return DenoiseState(latents: StoredTensor(latents), scheduler: scheduler.savedState(), generator: generator,
                            nextStep: 0, totalSteps: p.timesteps.count)
    }

    /// Runs step `state.nextStep`: UNet on the (doubled) latents, guidance, scheduler step.
    public func advance(_ p: Prepared, _ state: DenoiseState) throws -> DenoiseState {
        var scheduler = try p.schedulerKind.make(config: schedulerConfig, steps: p.request.steps)
        try scheduler.restore(state.scheduler)
        var generator = state.generator
        let latents = try state.latents.tensor()
        let t = p.timesteps[state.nextStep]
        let input = p.guidance ? Tensor.concatenateBatch([latents, latents]) : latents
        let scaled = scheduler.scaleModelInput(input)
        var noise = unet(scaled, timestep: t, conditioning: p.conditioning)
        if p.guidance { noise = applyGuidance(noise, scale: p.request.guidance, rescale: p.request.guidanceRescale) }
        let next = scheduler.step(modelOutput: noise, sample: latents, generator: &generator)
        return DenoiseState(latents: StoredTensor(next), scheduler: scheduler.savedState(), generator: generator,
                            nextStep: state.nextStep + 1, totalSteps: state.totalSteps)
    }

    /// Decodes the final latents (or returns them when `denoisingEnd` cut the schedule).
    public func finish(_ p: Prepared, _ state: DenoiseState) throws -> RenderOutput {
        let latents = try state.latents.tensor()
        if p.request.denoisingEnd != nil { return .latents(latents) }
        let factor = vae.config.scalingFactor
        let decoded = vae.decode(Tensor(shape: latents.shape, scalars: latents.scalars.map { $0 / factor }))
        var images: [RGBImage] = []
        for i in 0..<decoded.shape[0] {
            var pixels = decoded.slice(batch: i)
            if p.request.watermark { pixels = InvisibleWatermark.sdxl.apply(toDecoded: pixels) }
            images.append(RGBImage(decoded: pixels))
        }
        return .images(images)
    }

    /// A whole render. `progress(step, total)` is called after every step; returning false cancels.
    public func render(_ request: RenderRequest, progress: (Int, Int) -> Bool = { _, _ in true }) throws -> RenderOutput {
        let p = try prepare(request)
        var state = try begin(p)
        while state.nextStep < state.totalSteps {
            state = try advance(p, state)
            guard progress(state.nextStep, state.totalSteps) else { throw RenderError.cancelled }
        }
        return try finish(p, state)
    }
}
