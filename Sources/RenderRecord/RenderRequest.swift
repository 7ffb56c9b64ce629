import Foundation
import KilnBasics

/// Two integers coded as diffusers passes them, a `[first, second]` list; version 1 rows coded
/// them as an object, which still decodes.
protocol IntegerPair: Codable {
    associatedtype Keys: CodingKey
    static var keys: (first: Keys, second: Keys) { get }
    init(pair first: Int, _ second: Int)
    var pair: (Int, Int) { get }
}

extension IntegerPair {
    public init(from decoder: Decoder) throws {
        if var list = try? decoder.unkeyedContainer() {
            let first = try list.decode(Int.self)
            self.init(pair: first, try list.decode(Int.self))
        } else {
            let c = try decoder.container(keyedBy: Keys.self)
            self.init(pair: try c.decode(Int.self, forKey: Self.keys.first), try c.decode(Int.self, forKey: Self.keys.second))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var list = encoder.unkeyedContainer()
        try list.encode(pair.0); try list.encode(pair.1)
    }
}

/// Height and width in pixels, stored as diffusers passes sizes: `[height, width]`.
public struct PixelSize: Sendable, Equatable, CustomStringConvertible, IntegerPair {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    public var description: String { "\(width)x\(height)" }

    enum Keys: String, CodingKey { case width, height }
    static var keys: (first: Keys, second: Keys) { (.height, .width) }
    init(pair first: Int, _ second: Int) { self.init(width: second, height: first) }
    var pair: (Int, Int) { (height, width) }
}

/// A crop offset (top, left) in pixels, SDXL's `crops_coords_top_left`, stored as `[top, left]`.
public struct CropOffset: Sendable, Equatable, IntegerPair {
    public var top: Int
    public var left: Int
    public init(top: Int, left: Int) { self.top = top; self.left = left }
    public static let zero = CropOffset(top: 0, left: 0)

    enum Keys: String, CodingKey { case top, left }
    static var keys: (first: Keys, second: Keys) { (.top, .left) }
    init(pair first: Int, _ second: Int) { self.init(top: first, left: second) }
    var pair: (Int, Int) { (top, left) }
}

/// An input file (image, mask or latents) named by the SHA-256 of its bytes, so a stored job
/// never depends on a path that may move. `file` is the name it was given, for provenance.
public struct InputReference: Sendable, Codable, Equatable {
    public var sha256: String
    public var file: String?
    public init(sha256: String, file: String?) { self.sha256 = sha256; self.file = file }
}

/// Everything that determines a render, in every mode: text-to-image, image-to-image,
/// inpainting, and a refiner used as an ensemble of experts or after the base. Defaults are
/// those of diffusers' SDXL pipelines' `__call__`, and the stored (coded) names are its argument
/// names (`num_inference_steps`, `guidance_scale`, `strength`, `denoising_start`, ...). Version 1
/// rows (camel-case names, text-to-image only) still decode. A stored request keeps its version,
/// which says how it renders (`continuesGenerator`).
public struct RenderRequest: Sendable, Codable, Equatable {
    /// 3: the refiner continues the base's generator. 2: diffusers' argument names, each stage
    /// seeded anew.
    public static let currentVersion = 3
    /// Longest prompt accepted, in UTF-8 bytes.
    public static let maxPromptBytes = 100_000

    /// The version the request was made in: `currentVersion` for a new one, its own for a stored one.
    public var version: Int = RenderRequest.currentVersion
    public var prompt: String
    /// Prompt for tokenizer_2/text_encoder_2; diffusers uses `prompt` when it is nil or empty.
    public var prompt2: String?
    /// nil: zeroed negative embeddings when the model says `force_zeros_for_empty_prompt`.
    public var negativePrompt: String?
    public var negativePrompt2: String?
    /// nil: the input image's size rounded down to the VAE factor, or the UNet's `sample_size`
    /// times the VAE scale factor (1024 for SDXL) for text-to-image.
    public var width: Int?
    public var height: Int?
    public var steps: Int = 50
    /// nil: diffusers' default for the mode, 5.0 (7.5 for inpainting); see `effectiveGuidance`.
    public var guidance: Float?
    public var guidanceRescale: Float = 0
    public var seed: UInt64 = 0
    /// nil: the model's own scheduler (its scheduler_config.json class).
    public var scheduler: SchedulerKind?
    public var clipSkip: Int?
    public var originalSize: PixelSize?
    public var cropTopLeft: CropOffset = .zero
    public var targetSize: PixelSize?
    public var negativeOriginalSize: PixelSize?
    public var negativeCropTopLeft: CropOffset = .zero
    public var negativeTargetSize: PixelSize?
    /// Images per prompt.
    public var images: Int = 1
    /// Stop after this fraction of the schedule and return latents (ensemble of experts, base half).
    public var denoisingEnd: Double?
    /// Start at this fraction of the schedule from the given latents or image, adding no noise.
    public var denoisingStart: Double?
    /// Image-to-image and inpainting: how much of the schedule runs (nil: 0.3, inpainting 0.9999).
    public var strength: Double?
    /// Refiner-style models (5 micro-conditioning values): the aesthetic scores.
    public var aestheticScore: Double = 6.0
    public var negativeAestheticScore: Double = 2.5
    /// The input image (image-to-image, inpainting).
    public var image: InputReference?
    /// The inpainting mask: white repaints, black keeps.
    public var mask: InputReference?
    /// Inpainting: crop around the mask with this margin, render the crop, paste it back.
    public var paddingMaskCrop: Int?
    /// Latents to start from (what `denoising_end` wrote): a refiner-only render.
    public var latents: InputReference?
    /// A second model that finishes the render (refiner).
    public var refiner: String?
    /// For a single-file refiner: a diffusers folder with its configs and tokenizers.
    public var refinerConfig: String?
    /// With a refiner: the fraction of the schedule the base runs (ensemble of experts).
    public var highNoiseFrac: Double?
    /// With a refiner: the base finishes, then the refiner works on its latents as image-to-image.
    public var refineAfter: Bool = false
    /// The refiner's strength when `refineAfter`.
    public var refinerStrength: Double = 0.3
    public var watermark: Bool = true
    /// Decode (and encode inputs) in overlapping tiles, as diffusers' `vae.enable_tiling()`.
    public var vaeTiling: Bool = false
    /// The arithmetic of the models' matrix work: float32 (the default, diffusers' parity) or
    /// bf16 (`Precision`).
    public var precision: Precision = .fp32
    /// diffusers' `eta`, for the schedulers whose step takes it (TCD, DDIM); nil: the pipeline's default, 0.
    public var eta: Double?
    /// `--scheduler-config KEY=VALUE`: diffusers' `from_config(config, KEY=VALUE)` over the model's
    /// scheduler config, for every stage; empty: the config as it is.
    public var schedulerConfig: [String: SchedulerConfigValue] = [:]
    /// `--timesteps`: diffusers' `timesteps=` (`set_timesteps(timesteps=)`); `steps` is their count.
    public var timesteps: [Int]?
    /// `--sigmas`: diffusers' `sigmas=`, the last the final noise level; `steps` is one fewer.
    public var sigmas: [Double]?
    /// How the prompts are read: as they are (diffusers, 77 tokens), or with A1111's or compel's
    /// weights and without the 77-token limit (`--prompt-weighting`).
    public var promptWeighting: PromptWeighting = .none
    /// The sweep's prompt template this prompt was expanded from (`{combinatorial: ...}`,
    /// `{random: ...}`); nil for a prompt given as it is. Not a render parameter: kept for the record.
    public var promptTemplate: String?
    /// The templates `prompt_2`, `negative_prompt` and `negative_prompt_2` were expanded from,
    /// likewise (nil when given as they are).
    public var prompt2Template: String?
    public var negativePromptTemplate: String?
    public var negativePrompt2Template: String?
    /// LoRAs merged into the (base) model's UNet and text encoders.
    public var loras: [LoRAReference] = []
    /// Textual-inversion embeddings, each with the token that calls it.
    public var embeddings: [EmbeddingReference] = []
    /// ControlNets with their control images, scales and windows (`ControlNetSettings`).
    public var controlnet = ControlNetSettings()
    /// A UNet that replaces the (base) model's own (`--unet`).
    public var unet: UNetReference?
    /// A VAE that replaces the models' own for decoding and encoding images (`--vae`).
    public var vae: VAEReference?
    /// Which weight files the model's and refiner's folders load (`--variant none|fp16`, diffusers'
    /// `variant=`); nil: Kiln's default, plain weights else the fp16 variant (`WeightVariant.automatic`).
    public var variant: WeightVariant?

    public init(prompt: String) { self.prompt = prompt }

    enum CodingKeys: String, CodingKey {
        case version, prompt, prompt2 = "prompt_2", negativePrompt = "negative_prompt", negativePrompt2 = "negative_prompt_2"
        case width, height, steps = "num_inference_steps", guidance = "guidance_scale", guidanceRescale = "guidance_rescale"
        case seed, scheduler, clipSkip = "clip_skip", originalSize = "original_size", cropTopLeft = "crops_coords_top_left"
        case targetSize = "target_size", negativeOriginalSize = "negative_original_size"
        case negativeCropTopLeft = "negative_crops_coords_top_left", negativeTargetSize = "negative_target_size"
        case images = "num_images_per_prompt", denoisingEnd = "denoising_end", denoisingStart = "denoising_start"
        case strength, aestheticScore = "aesthetic_score", negativeAestheticScore = "negative_aesthetic_score"
        case image, mask = "mask_image", paddingMaskCrop = "padding_mask_crop", latents
        case refiner, refinerConfig = "refiner_config", highNoiseFrac = "high_noise_frac", refineAfter = "refine_after"
        case refinerStrength = "refiner_strength", watermark, loras, embeddings, vaeTiling = "vae_tiling", precision
        case promptTemplate = "prompt_template", eta
        case prompt2Template = "prompt_2_template", negativePromptTemplate = "negative_prompt_template"
        case negativePrompt2Template = "negative_prompt_2_template"
        case controlnet
        case schedulerConfig = "scheduler_config", timesteps, sigmas
        case promptWeighting = "prompt_weighting"
        case unet
        case vae
        case variant
    }

    /// The names version 1 stored (Swift property names).
    enum Version1Keys: String, CodingKey {
        case prompt, prompt2, negativePrompt, negativePrompt2, width, height, steps, guidance, guidanceRescale, seed, scheduler
        case clipSkip, originalSize, cropTopLeft, targetSize, negativeOriginalSize, negativeCropTopLeft, negativeTargetSize
        case images, denoisingEnd, watermark
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.version) { try self.init(version2: c) } else { try self.init(version1: decoder) }
    }

    init(version2 c: KeyedDecodingContainer<CodingKeys>) throws {
        let version = try c.decode(Int.self, forKey: .version)
        guard version <= RenderRequest.currentVersion else {
            throw RenderError.invalid(parameter: "request", reason: "was written by a newer kiln (version \(version)); upgrade kiln")
        }
        self.version = version
        prompt = try c.decode(String.self, forKey: .prompt)
        prompt2 = try c.decodeIfPresent(String.self, forKey: .prompt2)
        negativePrompt = try c.decodeIfPresent(String.self, forKey: .negativePrompt)
        negativePrompt2 = try c.decodeIfPresent(String.self, forKey: .negativePrompt2)
        width = try c.decodeIfPresent(Int.self, forKey: .width)
        height = try c.decodeIfPresent(Int.self, forKey: .height)
        steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? steps
        guidance = try c.decodeIfPresent(Float.self, forKey: .guidance)
        guidanceRescale = try c.decodeIfPresent(Float.self, forKey: .guidanceRescale) ?? guidanceRescale
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        scheduler = try c.decodeIfPresent(SchedulerKind.self, forKey: .scheduler)
        clipSkip = try c.decodeIfPresent(Int.self, forKey: .clipSkip)
        originalSize = try c.decodeIfPresent(PixelSize.self, forKey: .originalSize)
        cropTopLeft = try c.decodeIfPresent(CropOffset.self, forKey: .cropTopLeft) ?? .zero
        targetSize = try c.decodeIfPresent(PixelSize.self, forKey: .targetSize)
        negativeOriginalSize = try c.decodeIfPresent(PixelSize.self, forKey: .negativeOriginalSize)
        negativeCropTopLeft = try c.decodeIfPresent(CropOffset.self, forKey: .negativeCropTopLeft) ?? .zero
        negativeTargetSize = try c.decodeIfPresent(PixelSize.self, forKey: .negativeTargetSize)
        images = try c.decodeIfPresent(Int.self, forKey: .images) ?? images
        denoisingEnd = try c.decodeIfPresent(Double.self, forKey: .denoisingEnd)
        denoisingStart = try c.decodeIfPresent(Double.self, forKey: .denoisingStart)
        strength = try c.decodeIfPresent(Double.self, forKey: .strength)
        aestheticScore = try c.decodeIfPresent(Double.self, forKey: .aestheticScore) ?? aestheticScore
        negativeAestheticScore = try c.decodeIfPresent(Double.self, forKey: .negativeAestheticScore) ?? negativeAestheticScore
        image = try c.decodeIfPresent(InputReference.self, forKey: .image)
        mask = try c.decodeIfPresent(InputReference.self, forKey: .mask)
        paddingMaskCrop = try c.decodeIfPresent(Int.self, forKey: .paddingMaskCrop)
        latents = try c.decodeIfPresent(InputReference.self, forKey: .latents)
        refiner = try c.decodeIfPresent(String.self, forKey: .refiner)
        refinerConfig = try c.decodeIfPresent(String.self, forKey: .refinerConfig)
        highNoiseFrac = try c.decodeIfPresent(Double.self, forKey: .highNoiseFrac)
        refineAfter = try c.decodeIfPresent(Bool.self, forKey: .refineAfter) ?? false
        refinerStrength = try c.decodeIfPresent(Double.self, forKey: .refinerStrength) ?? refinerStrength
        watermark = try c.decodeIfPresent(Bool.self, forKey: .watermark) ?? true
        loras = try c.decodeIfPresent([LoRAReference].self, forKey: .loras) ?? []
        embeddings = try c.decodeIfPresent([EmbeddingReference].self, forKey: .embeddings) ?? []
        controlnet = try c.decodeIfPresent(ControlNetSettings.self, forKey: .controlnet) ?? ControlNetSettings()
        vaeTiling = try c.decodeIfPresent(Bool.self, forKey: .vaeTiling) ?? false
        precision = try c.decodeIfPresent(Precision.self, forKey: .precision) ?? .fp32
        promptTemplate = try c.decodeIfPresent(String.self, forKey: .promptTemplate)
        prompt2Template = try c.decodeIfPresent(String.self, forKey: .prompt2Template)
        negativePromptTemplate = try c.decodeIfPresent(String.self, forKey: .negativePromptTemplate)
        negativePrompt2Template = try c.decodeIfPresent(String.self, forKey: .negativePrompt2Template)
        eta = try c.decodeIfPresent(Double.self, forKey: .eta)
        schedulerConfig = try c.decodeIfPresent([String: SchedulerConfigValue].self, forKey: .schedulerConfig) ?? [:]
        timesteps = try c.decodeIfPresent([Int].self, forKey: .timesteps)
        sigmas = try c.decodeIfPresent([Double].self, forKey: .sigmas)
        promptWeighting = try c.decodeIfPresent(PromptWeighting.self, forKey: .promptWeighting) ?? .none
        unet = try c.decodeIfPresent(UNetReference.self, forKey: .unet)
        vae = try c.decodeIfPresent(VAEReference.self, forKey: .vae)
        variant = try c.decodeIfPresent(WeightVariant.self, forKey: .variant)
    }

    init(version1 decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Version1Keys.self)
        // Written back as version 2 ever since (text-to-image only: one stage, one generator).
        version = 2
        prompt = try c.decode(String.self, forKey: .prompt)
        prompt2 = try c.decodeIfPresent(String.self, forKey: .prompt2)
        negativePrompt = try c.decodeIfPresent(String.self, forKey: .negativePrompt)
        negativePrompt2 = try c.decodeIfPresent(String.self, forKey: .negativePrompt2)
        width = try c.decodeIfPresent(Int.self, forKey: .width)
        height = try c.decodeIfPresent(Int.self, forKey: .height)
        steps = try c.decode(Int.self, forKey: .steps)
        guidance = try c.decode(Float.self, forKey: .guidance)
        guidanceRescale = try c.decode(Float.self, forKey: .guidanceRescale)
        seed = try c.decode(UInt64.self, forKey: .seed)
        scheduler = try c.decodeIfPresent(SchedulerKind.self, forKey: .scheduler)
        clipSkip = try c.decodeIfPresent(Int.self, forKey: .clipSkip)
        originalSize = try c.decodeIfPresent(PixelSize.self, forKey: .originalSize)
        cropTopLeft = try c.decodeIfPresent(CropOffset.self, forKey: .cropTopLeft) ?? .zero
        targetSize = try c.decodeIfPresent(PixelSize.self, forKey: .targetSize)
        negativeOriginalSize = try c.decodeIfPresent(PixelSize.self, forKey: .negativeOriginalSize)
        negativeCropTopLeft = try c.decodeIfPresent(CropOffset.self, forKey: .negativeCropTopLeft) ?? .zero
        negativeTargetSize = try c.decodeIfPresent(PixelSize.self, forKey: .negativeTargetSize)
        images = try c.decodeIfPresent(Int.self, forKey: .images) ?? 1
        denoisingEnd = try c.decodeIfPresent(Double.self, forKey: .denoisingEnd)
        watermark = try c.decodeIfPresent(Bool.self, forKey: .watermark) ?? true
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        // Its own version: a stored request (and its hash and provenance) stays as it was.
        try c.encode(version, forKey: .version)
        try c.encode(prompt, forKey: .prompt)
        try c.encodeIfPresent(prompt2, forKey: .prompt2)
        try c.encodeIfPresent(negativePrompt, forKey: .negativePrompt)
        try c.encodeIfPresent(negativePrompt2, forKey: .negativePrompt2)
        try c.encodeIfPresent(width, forKey: .width)
        try c.encodeIfPresent(height, forKey: .height)
        try c.encode(steps, forKey: .steps)
        try c.encodeIfPresent(guidance, forKey: .guidance)
        try c.encode(guidanceRescale, forKey: .guidanceRescale)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(scheduler, forKey: .scheduler)
        try c.encodeIfPresent(clipSkip, forKey: .clipSkip)
        try c.encodeIfPresent(originalSize, forKey: .originalSize)
        try c.encode(cropTopLeft, forKey: .cropTopLeft)
        try c.encodeIfPresent(targetSize, forKey: .targetSize)
        try c.encodeIfPresent(negativeOriginalSize, forKey: .negativeOriginalSize)
        try c.encode(negativeCropTopLeft, forKey: .negativeCropTopLeft)
        try c.encodeIfPresent(negativeTargetSize, forKey: .negativeTargetSize)
        try c.encode(images, forKey: .images)
        try c.encodeIfPresent(denoisingEnd, forKey: .denoisingEnd)
        try c.encodeIfPresent(denoisingStart, forKey: .denoisingStart)
        try c.encodeIfPresent(strength, forKey: .strength)
        try c.encode(aestheticScore, forKey: .aestheticScore)
        try c.encode(negativeAestheticScore, forKey: .negativeAestheticScore)
        try c.encodeIfPresent(image, forKey: .image)
        try c.encodeIfPresent(mask, forKey: .mask)
        try c.encodeIfPresent(paddingMaskCrop, forKey: .paddingMaskCrop)
        try c.encodeIfPresent(latents, forKey: .latents)
        try c.encodeIfPresent(refiner, forKey: .refiner)
        try c.encodeIfPresent(refinerConfig, forKey: .refinerConfig)
        try c.encodeIfPresent(highNoiseFrac, forKey: .highNoiseFrac)
        try c.encode(refineAfter, forKey: .refineAfter)
        try c.encode(refinerStrength, forKey: .refinerStrength)
        try c.encode(watermark, forKey: .watermark)
        if !loras.isEmpty { try c.encode(loras, forKey: .loras) }
        if !embeddings.isEmpty { try c.encode(embeddings, forKey: .embeddings) }
        if !controlnet.isEmpty { try c.encode(controlnet, forKey: .controlnet) }
        // Only when on: requests (and their hashes) from before tiling stay as they were.
        if vaeTiling { try c.encode(vaeTiling, forKey: .vaeTiling) }
        // Likewise only when not float32.
        if precision != .fp32 { try c.encode(precision, forKey: .precision) }
        // Only when a template was used, likewise.
        try c.encodeIfPresent(promptTemplate, forKey: .promptTemplate)
        try c.encodeIfPresent(prompt2Template, forKey: .prompt2Template)
        try c.encodeIfPresent(negativePromptTemplate, forKey: .negativePromptTemplate)
        try c.encodeIfPresent(negativePrompt2Template, forKey: .negativePrompt2Template)
        // Only when set, likewise.
        try c.encodeIfPresent(eta, forKey: .eta)
        // Only when set, likewise.
        if !schedulerConfig.isEmpty { try c.encode(schedulerConfig, forKey: .schedulerConfig) }
        try c.encodeIfPresent(timesteps, forKey: .timesteps)
        try c.encodeIfPresent(sigmas, forKey: .sigmas)
        // Only when weighting, likewise.
        if promptWeighting != .none { try c.encode(promptWeighting, forKey: .promptWeighting) }
        // Only when set, likewise.
        try c.encodeIfPresent(unet, forKey: .unet)
        // Only when set, likewise.
        try c.encodeIfPresent(vae, forKey: .vae)
        // Only when set, likewise.
        try c.encodeIfPresent(variant, forKey: .variant)
    }
}

/// Why a render request cannot run; each message names the parameter.
public enum RenderError: Error, CustomStringConvertible, Equatable {
    case invalid(parameter: String, reason: String)
    case cancelled
    case model(String)

    public var description: String {
        switch self {
        case let .invalid(parameter, reason): return "\(parameter): \(reason)"
        case .cancelled: return "render cancelled"
        case let .model(why): return why
        }
    }
}

extension RenderRequest {
    /// Whether the refiner stage continues the base stage's generator, as one `torch.Generator`
    /// passed to both diffusers pipelines does (version 3 on); earlier versions seeded each stage
    /// with `seed` and keep rendering so.
    public var continuesGenerator: Bool { version >= 3 }

    /// The strength this request runs at: its own, or diffusers' default for the mode (the
    /// ControlNet image-to-image pipeline's is 0.8).
    public var effectiveStrength: Double { strength ?? (mask != nil ? 0.9999 : (controlnet.models.isEmpty ? 0.3 : 0.8)) }

    /// The guidance scale this request runs at: its own, or diffusers' default for the mode
    /// (the inpainting pipeline's is 7.5, the others' 5.0, the ControlNet inpainting one's too).
    public var effectiveGuidance: Float { guidance ?? (mask != nil && controlnet.models.isEmpty ? 7.5 : 5.0) }

    /// Checks every parameter before any work is done.
    public func validate() throws {
        func bad(_ p: String, _ r: String) -> RenderError { .invalid(parameter: p, reason: r) }
        // The tokenizers keep 77 tokens; a prompt far longer is a mistake, and is stored with every job.
        for (name, text) in [("prompt", prompt), ("prompt-2", prompt2), ("negative-prompt", negativePrompt),
                             ("negative-prompt-2", negativePrompt2)] {
            if let text, text.utf8.count > RenderRequest.maxPromptBytes {
                throw bad(name, "is \(text.utf8.count) bytes, over the limit of \(RenderRequest.maxPromptBytes) (the text encoders read 77 tokens)")
            }
        }
        if let w = width, w <= 0 || w % 8 != 0 || w > 8192 { throw bad("width", "must be a positive multiple of 8 up to 8192, not \(w)") }
        if let h = height, h <= 0 || h % 8 != 0 || h > 8192 { throw bad("height", "must be a positive multiple of 8 up to 8192, not \(h)") }
        guard steps >= 1, steps <= 1000 else { throw bad("steps", "must be between 1 and 1000, not \(steps)") }
        if let g = guidance, !(g.isFinite && g >= 0 && g <= 100) { throw bad("guidance", "must be between 0 and 100, not \(g)") }
        guard guidanceRescale.isFinite, guidanceRescale >= 0, guidanceRescale <= 1 else { throw bad("guidance-rescale", "must be between 0 and 1, not \(guidanceRescale)") }
        if let c = clipSkip, c < 0 || c > 30 { throw bad("clip-skip", "must be between 0 and 30, not \(c)") }
        guard images >= 1, images <= 64 else { throw bad("images", "must be between 1 and 64, not \(images)") }
        if let d = denoisingEnd, !(d > 0 && d < 1) { throw bad("denoising-end", "must be strictly between 0 and 1, not \(d)") }
        if let d = denoisingStart, !(d > 0 && d < 1) { throw bad("denoising-start", "must be strictly between 0 and 1, not \(d)") }
        if let s = denoisingStart, let e = denoisingEnd, s >= e {
            throw bad("denoising-start", "\(s) must be below denoising-end \(e)")
        }
        if let s = strength, !(s > 0 && s <= 1) { throw bad("strength", "must be in (0, 1], not \(s)") }
        if let e = eta, !(e >= 0 && e <= 1) { throw bad("eta", "must be between 0 and 1, not \(e)") }
        if promptWeighting != .none {
            if clipSkip != nil { throw bad("clip-skip", "cannot be combined with --prompt-weighting \(promptWeighting.rawValue) (compel reads the penultimate layer)") }
            for (name, text) in [("prompt", prompt), ("prompt-2", prompt2), ("negative-prompt", negativePrompt), ("negative-prompt-2", negativePrompt2)] {
                if let text { _ = try promptWeighting.parse(text, parameter: name) }
            }
        }
        if eta != nil, let s = scheduler, !SchedulerKind.takingEta.contains(s) {
            throw bad("eta", "scheduler \(s.rawValue) does not take it (schedulers that do: \(SchedulerKind.takingEta.map(\.rawValue).joined(separator: ", ")))")
        }
        try validateSchedule()
        guard refinerStrength > 0, refinerStrength <= 1 else { throw bad("refiner-strength", "must be in (0, 1], not \(refinerStrength)") }
        if let f = highNoiseFrac, !(f > 0 && f < 1) { throw bad("high-noise-frac", "must be strictly between 0 and 1, not \(f)") }
        for (name, score) in [("aesthetic-score", aestheticScore), ("negative-aesthetic-score", negativeAestheticScore)]
        where !(score.isFinite && score >= -100 && score <= 100) {
            throw bad(name, "must be a number between -100 and 100, not \(score)")
        }
        guard embeddings.count <= 16 else { throw bad("embedding", "at most 16 embeddings, not \(embeddings.count)") }
        guard loras.count <= 16 else { throw bad("lora", "at most 16 LoRAs, not \(loras.count)") }
        try controlnet.validate(in: self)
        for l in loras where !(l.scale.isFinite && abs(l.scale) <= 10) { throw bad("lora", "\(l.file): scale \(l.scale) must be between -10 and 10") }
        if let p = paddingMaskCrop, p < 0 || p > 8192 { throw bad("padding-mask-crop", "must be between 0 and 8192 pixels, not \(p)") }
        if mask != nil && image == nil && latents == nil { throw bad("mask", "needs an --image to inpaint") }
        if paddingMaskCrop != nil && (mask == nil || image == nil) { throw bad("padding-mask-crop", "needs --image and --mask") }
        if paddingMaskCrop != nil && refiner != nil {
            throw bad("padding-mask-crop", "cannot be combined with --refiner (the refiner continues from latents, which cannot be cropped)")
        }
        if image != nil && latents != nil { throw bad("latents", "cannot be combined with --image; give one start") }
        if refiner != nil {
            guard highNoiseFrac != nil || refineAfter else {
                throw bad("refiner", "needs --high-noise-frac F (ensemble of experts) or --refine-after")
            }
            if highNoiseFrac != nil && refineAfter { throw bad("refine-after", "cannot be combined with --high-noise-frac; choose one way to use the refiner") }
            if denoisingEnd != nil { throw bad("denoising-end", "is set by --high-noise-frac when a refiner is used") }
            if latents != nil { throw bad("latents", "start a refiner-only render: give the refiner as --model, without --refiner") }
        } else {
            if highNoiseFrac != nil { throw bad("high-noise-frac", "needs --refiner") }
            if refineAfter { throw bad("refine-after", "needs --refiner") }
        }
        if denoisingStart != nil && image == nil && latents == nil {
            throw bad("denoising-start", "needs a start: --latents or --image")
        }
        for (name, size) in [("original-size", originalSize), ("target-size", targetSize),
                             ("negative-original-size", negativeOriginalSize), ("negative-target-size", negativeTargetSize)] {
            if let s = size, s.width <= 0 || s.height <= 0 || s.width > 100_000 || s.height > 100_000 {
                throw bad(name, "must be positive, not \(s)")
            }
        }
        for (name, c) in [("crop-top-left", cropTopLeft), ("negative-crop-top-left", negativeCropTopLeft)] where c.top < 0 || c.left < 0 || c.top > 100_000 || c.left > 100_000 {
            throw bad(name, "must be non-negative, not \(c.top),\(c.left)")
        }
    }
}
