import Foundation
import KilnBasics

/// A value for a render parameter as a user writes it: on the command line (text) or in a
/// sweep spec (text, number or boolean).
public enum ParameterValue: Sendable, Equatable, CustomStringConvertible {
    case text(String), number(Double), flag(Bool)

    public var description: String {
        switch self {
        case .text(let s): return s
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .flag(let b): return String(b)
        }
    }
}

/// One render parameter, named once: `name` is its `kiln render`/`kiln enqueue` option
/// (`--name`), its sweep key and contact-sheet axis (`name` or `name_with_underscores`), and,
/// with underscores, its column in `v_outputs`; `key` is the diffusers `__call__` argument it is
/// stored as in `RenderRequest`.
public struct RenderParameter: Sendable {
    public enum Kind: String, Sendable { case text, integer, number, size, crop, flag, scheduler, file, model, lora, precision }

    public let name: String
    public let key: String
    public let kind: Kind
    public let help: String
    let set: @Sendable (inout RenderRequest, ParameterValue) throws -> Void
    let get: @Sendable (RenderRequest) -> String?
    let columnName: String?

    /// The `v_outputs` column: the name with underscores (`loras` for the repeatable `lora`).
    public var column: String { columnName ?? name.replacingOccurrences(of: "-", with: "_") }

    /// Sets the parameter on `request` from a user's value; errors name the parameter.
    public func apply(_ value: ParameterValue, to request: inout RenderRequest) throws { try set(&request, value) }

    /// The parameter's value in `request` as text (contact-sheet labels), nil when unset.
    public func value(in request: RenderRequest) -> String? { get(request) }
}

/// The table of render parameters: the command line, sweep specs, contact-sheet axes and the
/// columns of `v_outputs` all name parameters from here.
public enum RenderParameters {
    static func fail(_ name: String, _ why: String) -> RenderError { .invalid(parameter: name, reason: why) }

    static func text(_ v: ParameterValue) -> String { v.description }

    static func integer(_ name: String, _ v: ParameterValue) throws -> Int {
        switch v {
        case .number(let n):
            guard n == n.rounded(), abs(n) < 1e12 else { throw fail(name, "must be an integer, not \(v)") }
            return Int(n)
        case .text(let s):
            guard let n = Int(s.trimmingCharacters(in: .whitespaces)) else { throw fail(name, "must be an integer, not '\(s)'") }
            return n
        case .flag: throw fail(name, "must be an integer, not \(v)")
        }
    }

    static func number(_ name: String, _ v: ParameterValue) throws -> Double {
        switch v {
        case .number(let n):
            guard n.isFinite else { throw fail(name, "must be a finite number") }
            return n
        case .text(let s):
            guard let n = Double(s.trimmingCharacters(in: .whitespaces)), n.isFinite else { throw fail(name, "must be a number, not '\(s)'") }
            return n
        case .flag: throw fail(name, "must be a number, not \(v)")
        }
    }

    static func flag(_ name: String, _ v: ParameterValue) throws -> Bool {
        switch v {
        case .flag(let b): return b
        case .text(let s) where ["true", "false"].contains(s.lowercased()): return s.lowercased() == "true"
        default: throw fail(name, "must be true or false, not \(v)")
        }
    }

    static func size(_ name: String, _ v: ParameterValue) throws -> PixelSize {
        let parts = v.description.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else {
            throw fail(name, "must be WIDTHxHEIGHT with positive integers, like 1024x768, not '\(v)'")
        }
        return PixelSize(width: w, height: h)
    }

    static func crop(_ name: String, _ v: ParameterValue) throws -> CropOffset {
        let parts = v.description.split(separator: ",")
        guard parts.count == 2, let t = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let l = Int(parts[1].trimmingCharacters(in: .whitespaces)), t >= 0, l >= 0 else {
            throw fail(name, "must be TOP,LEFT with non-negative integers, like 0,256, not '\(v)'")
        }
        return CropOffset(top: t, left: l)
    }

    static func format(_ d: Double?) -> String? { d.map { ParameterValue.number($0).description } }

    /// A comma-separated list of integers (`--timesteps 999,759,499,259`).
    static func integers(_ name: String, _ v: ParameterValue) throws -> [Int] {
        let parts = v.description.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try parts.map { p in
            guard let n = Int(p) else { throw fail(name, "must be integers separated by commas, like 999,759,499,259, not '\(v)'") }
            return n
        }
    }

    /// A comma-separated list of finite numbers (`--sigmas 14.6,4.2,1.1,0`).
    static func numbers(_ name: String, _ v: ParameterValue) throws -> [Double] {
        let parts = v.description.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try parts.map { p in
            guard let n = Double(p), n.isFinite else { throw fail(name, "must be numbers separated by commas, like 14.6,4.2,1.1,0, not '\(v)'") }
            return n
        }
    }
    static func format(_ f: Float) -> String { ParameterValue.number(Double(f)).description }

    static func entry(_ name: String, _ key: String, _ kind: RenderParameter.Kind, _ help: String, column: String? = nil,
                      set: @escaping @Sendable (inout RenderRequest, ParameterValue) throws -> Void,
                      get: @escaping @Sendable (RenderRequest) -> String?) -> RenderParameter {
        RenderParameter(name: name, key: key, kind: kind, help: help, set: set, get: get, columnName: column)
    }

    /// Every parameter, in the order `kiln render --help` lists them.
    public static let all: [RenderParameter] = [
        entry("prompt", "prompt", .text, "The prompt (for both text encoders unless --prompt-2 is given).",
              set: { $0.prompt = text($1) }, get: { $0.prompt }),
        entry("prompt-2", "prompt_2", .text, "Prompt for the second text encoder (OpenCLIP bigG).",
              set: { $0.prompt2 = text($1) }, get: { $0.prompt2 }),
        entry("negative-prompt", "negative_prompt", .text, "What to steer away from.",
              set: { $0.negativePrompt = text($1) }, get: { $0.negativePrompt }),
        entry("negative-prompt-2", "negative_prompt_2", .text, "Negative prompt for the second text encoder.",
              set: { $0.negativePrompt2 = text($1) }, get: { $0.negativePrompt2 }),
        entry("width", "width", .integer, "Width in pixels, a multiple of 8 (default: the input image's, else the model's, 1024 for SDXL).",
              set: { $0.width = try integer("width", $1) }, get: { $0.width.map(String.init) }),
        entry("height", "height", .integer, "Height in pixels, a multiple of 8 (default: the input image's, else the model's).",
              set: { $0.height = try integer("height", $1) }, get: { $0.height.map(String.init) }),
        entry("steps", "num_inference_steps", .integer, "Denoising steps (image-to-image runs strength x steps of them).",
              set: { $0.steps = try integer("steps", $1) }, get: { String($0.steps) }),
        entry("guidance", "guidance_scale", .number, "Classifier-free guidance scale, off at 1 or below (default 5.0; inpainting 7.5, with --controlnet 5.0).",
              set: { $0.guidance = Float(try number("guidance", $1)) }, get: { format($0.effectiveGuidance) }),
        entry("guidance-rescale", "guidance_rescale", .number, "Guidance rescale factor, 0...1.",
              set: { $0.guidanceRescale = Float(try number("guidance-rescale", $1)) }, get: { format($0.guidanceRescale) }),
        entry("seed", "seed", .integer, "Random seed (torch CPU generator); random when omitted, and recorded.",
              set: { r, v in
                  let s = try integer("seed", v)
                  guard s >= 0 else { throw fail("seed", "must be non-negative, not \(s)") }
                  r.seed = UInt64(s)
              }, get: { String($0.seed) }),
        entry("scheduler", "scheduler", .scheduler,
              "Scheduler: \(SchedulerKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: the model's).",
              set: { r, v in
                  do { r.scheduler = try SchedulerKind(name: v.description) } catch { throw fail("scheduler", "\(error)") }
              }, get: { $0.scheduler?.rawValue }),
        entry("eta", "eta", .number,
              "diffusers' eta, 0...1, for \(SchedulerKind.takingEta.map(\.rawValue).joined(separator: ", ")): the share of fresh noise each step adds (default 0; TCD's recipe uses 0.3).",
              set: { $0.eta = try number("eta", $1) }, get: { format($0.eta) }),
        entry("scheduler-config", "scheduler_config", .text,
              "KEY=VALUE over the model's scheduler config, as diffusers' from_config(config, KEY=VALUE): timestep_spacing=trailing, prediction_type=sample, use_karras_sigmas=true, steps_offset, original_inference_steps, rescale_betas_zero_snr, final_sigmas_type, timestep_scaling, ... (any key the scheduler's class reads); repeat, or join with ';'.",
              column: "scheduler_overrides", set: { r, v in
                  do { r.schedulerConfig.merge(try SchedulerOverrides.parse(v.description)) { $1 } } catch { throw fail("scheduler-config", "\(error)") }
              }, get: { SchedulerOverrides.text($0.schedulerConfig) }),
        entry("timesteps", "timesteps", .text,
              "Custom timesteps, descending, like 999,759,499,259 (diffusers' timesteps=; the step count follows, so no --steps) for \(SchedulerKind.takingTimesteps.map(\.rawValue).joined(separator: ", ")).",
              set: { r, v in
                  let ts = try integers("timesteps", v)
                  r.timesteps = ts; r.steps = ts.count
              }, get: { $0.timesteps.map { $0.map(String.init).joined(separator: ",") } }),
        entry("sigmas", "sigmas", .text,
              "Custom sigmas, descending, the last the final one, like 14.6,4.2,1.1,0 (diffusers' sigmas=; steps: one fewer, so no --steps) for \(SchedulerKind.takingSigmas.map(\.rawValue).joined(separator: ", ")).",
              set: { r, v in
                  let sigmas = try numbers("sigmas", v)
                  r.sigmas = sigmas; r.steps = max(sigmas.count - 1, 1)
              }, get: { $0.sigmas.map { $0.map { ParameterValue.number($0).description }.joined(separator: ",") } }),
        entry("prompt-weighting", "prompt_weighting", .text,
              "How prompts are read: none (as they are, cut at 77 tokens), a1111 ((word:1.3), [word], BREAK) or compel (word+, (a b)1.3); both weigh as compel does and keep long prompts.",
              set: { $0.promptWeighting = try PromptWeighting(name: text($1)) },
              get: { $0.promptWeighting == .none ? nil : $0.promptWeighting.rawValue }),
        entry("clip-skip", "clip_skip", .integer, "Text encoder layers to skip.",
              set: { $0.clipSkip = try integer("clip-skip", $1) }, get: { $0.clipSkip.map(String.init) }),
        entry("original-size", "original_size", .size, "Micro-conditioning original size, WxH.",
              set: { $0.originalSize = try size("original-size", $1) }, get: { $0.originalSize?.description }),
        entry("crop-top-left", "crops_coords_top_left", .crop, "Micro-conditioning crop, TOP,LEFT.",
              set: { $0.cropTopLeft = try crop("crop-top-left", $1) }, get: { "\($0.cropTopLeft.top),\($0.cropTopLeft.left)" }),
        entry("target-size", "target_size", .size, "Micro-conditioning target size, WxH.",
              set: { $0.targetSize = try size("target-size", $1) }, get: { $0.targetSize?.description }),
        entry("negative-original-size", "negative_original_size", .size, "Negative original size, WxH.",
              set: { $0.negativeOriginalSize = try size("negative-original-size", $1) }, get: { $0.negativeOriginalSize?.description }),
        entry("negative-crop-top-left", "negative_crops_coords_top_left", .crop, "Negative crop, TOP,LEFT.",
              set: { $0.negativeCropTopLeft = try crop("negative-crop-top-left", $1) },
              get: { "\($0.negativeCropTopLeft.top),\($0.negativeCropTopLeft.left)" }),
        entry("negative-target-size", "negative_target_size", .size, "Negative target size, WxH.",
              set: { $0.negativeTargetSize = try size("negative-target-size", $1) }, get: { $0.negativeTargetSize?.description }),
        entry("images", "num_images_per_prompt", .integer, "Images per prompt (files FILE-0.png ... FILE-(N-1).png).",
              set: { $0.images = try integer("images", $1) }, get: { String($0.images) }),
        entry("image", "image", .file, "Input image (PNG or JPEG) for image-to-image or inpainting.",
              set: { $0.image = InputReference(sha256: "", file: text($1)) }, get: { $0.image?.file }),
        entry("strength", "strength", .number, "Image-to-image strength in (0, 1] (default 0.3; inpainting 0.9999; with --controlnet and no --mask 0.8).",
              set: { $0.strength = try number("strength", $1) }, get: { format($0.strength) }),
        entry("mask", "mask_image", .file, "Inpainting mask (PNG or JPEG): white is repainted, black kept.",
              set: { $0.mask = InputReference(sha256: "", file: text($1)) }, get: { $0.mask?.file }),
        entry("padding-mask-crop", "padding_mask_crop", .integer, "Inpainting: render only a crop around the mask, with this margin in pixels.",
              set: { $0.paddingMaskCrop = try integer("padding-mask-crop", $1) }, get: { $0.paddingMaskCrop.map(String.init) }),
        entry("latents", "latents", .file, "Start from these latents (a .safetensors written by --denoising-end).",
              set: { $0.latents = InputReference(sha256: "", file: text($1)) }, get: { $0.latents?.file }),
        entry("denoising-start", "denoising_start", .number, "Start at this fraction of the schedule (0...1), adding no noise.",
              set: { $0.denoisingStart = try number("denoising-start", $1) }, get: { format($0.denoisingStart) }),
        entry("denoising-end", "denoising_end", .number, "Stop at this fraction of the schedule (0...1) and save latents.",
              set: { $0.denoisingEnd = try number("denoising-end", $1) }, get: { format($0.denoisingEnd) }),
        entry("aesthetic-score", "aesthetic_score", .number, "Refiner-style models: the aesthetic score to condition on.",
              set: { $0.aestheticScore = try number("aesthetic-score", $1) }, get: { format($0.aestheticScore) }),
        entry("negative-aesthetic-score", "negative_aesthetic_score", .number, "Refiner-style models: the negative aesthetic score.",
              set: { $0.negativeAestheticScore = try number("negative-aesthetic-score", $1) }, get: { format($0.negativeAestheticScore) }),
        entry("refiner", "refiner", .model, "A refiner model (folder or single file) that finishes the render.",
              set: { $0.refiner = text($1) }, get: { $0.refiner }),
        entry("refiner-config", "refiner_config", .model, "For a single-file refiner: a diffusers folder with its configs and tokenizers.",
              set: { $0.refinerConfig = text($1) }, get: { $0.refinerConfig }),
        entry("high-noise-frac", "high_noise_frac", .number, "With --refiner: the fraction of the schedule the base runs (ensemble of experts).",
              set: { $0.highNoiseFrac = try number("high-noise-frac", $1) }, get: { format($0.highNoiseFrac) }),
        entry("refine-after", "refine_after", .flag, "With --refiner: the base finishes, then the refiner works on its latents.",
              set: { $0.refineAfter = try flag("refine-after", $1) }, get: { String($0.refineAfter) }),
        entry("refiner-strength", "refiner_strength", .number, "With --refine-after: the refiner's strength (default 0.3).",
              set: { $0.refinerStrength = try number("refiner-strength", $1) }, get: { format($0.refinerStrength) }),
        entry("lora", "loras", .lora, "A LoRA file, FILE or FILE:SCALE (scale 1 by default); repeat for several, or join them with ';'.",
              column: "loras",
              set: { r, v in
                  for part in v.description.split(separator: ";") where !part.isEmpty {
                      r.loras.append(try LoRAReference(spec: part.trimmingCharacters(in: .whitespaces)))
                  }
              }, get: { r in r.loras.isEmpty ? nil : r.loras.map { "\(($0.file as NSString).lastPathComponent):\(ParameterValue.number($0.scale))" }.joined(separator: ";") }),
        entry("embedding", "embeddings", .file, "A textual-inversion embedding, FILE or FILE:TOKEN (the token is the file's stem by default); repeat for several, or join with ';'.",
              column: "embeddings",
              set: { r, v in
                  for part in v.description.split(separator: ";") where !part.isEmpty {
                      r.embeddings.append(try EmbeddingReference(spec: part.trimmingCharacters(in: .whitespaces)))
                  }
              }, get: { r in r.embeddings.isEmpty ? nil : r.embeddings.map(\.token).joined(separator: ";") }),
        entry("vae", "vae", .model,
              "A VAE that replaces the model's for decoding and for encoding input images: an AutoencoderKL or AutoencoderTiny diffusers folder (sdxl-vae-fp16-fix, taesdxl), or an AutoencoderKL .safetensors file in diffusers' or the original key layout, read with the model's VAE config; also org/name or org/name:FILE from the Hugging Face cache.",
              set: { r, v in
                  let file = text(v)
                  guard !file.isEmpty else { throw fail("vae", "give a VAE folder or .safetensors file") }
                  r.vae = VAEReference(file: file)
              }, get: { $0.vae?.file }),
        entry("unet", "unet", .model,
              "A UNet that replaces the model's own: a diffusers UNet folder, or one .safetensors file in diffusers' or the original (SGM) key layout, read with the model's UNet config; also org/name or org/name:FILE from the Hugging Face cache.",
              set: { r, v in
                  let file = text(v)
                  guard !file.isEmpty else { throw fail("unet", "give a UNet folder or .safetensors file") }
                  r.unet = UNetReference(file: file)
              }, get: { $0.unet?.file }),
        entry("variant", "variant", .text,
              "Which weight files the --model and --refiner folders load, one rule for both and for Hub ids: fp16 (diffusers' from_pretrained(variant=\"fp16\"): a component's *.fp16.safetensors where it has fp16 files, its plain weights where it has none; a model with no fp16 files at all is refused) or none (variant=None: plain weights only). Unset: plain weights, else the fp16 variant, Kiln's convenience where diffusers' variant=None would fail. Single files are read as they are.",
              set: { r, v in
                  guard let variant = WeightVariant(name: v.description) else { throw fail("variant", "must be fp16 or none (or auto, the default), not '\(v)'") }
                  r.variant = variant == .automatic ? nil : variant
              }, get: { $0.variant?.rawValue }),
        entry("vae-tiling", "vae_tiling", .flag,
              "Decode (and encode input images) in overlapping tiles blended at the seams, as diffusers' vae.enable_tiling(): memory stops growing with the image above 1024 px; the pixels differ from an untiled decode.",
              set: { $0.vaeTiling = try flag("vae-tiling", $1) }, get: { String($0.vaeTiling) }),
        entry("precision", "precision", .precision,
              "fp32 (default: float32, the same image as diffusers) or bf16: bfloat16 matrix work with float32 accumulation, about twice as fast on CPUs with AVX512-BF16 (float32 with a notice elsewhere); the pixels differ slightly from float32's.",
              set: { r, v in
                  guard let p = Precision(name: v.description) else { throw fail("precision", "must be fp32 or bf16, not '\(v)'") }
                  r.precision = p
              }, get: { $0.precision.rawValue }),
        entry("watermark", "watermark", .flag, "Apply the invisible watermark (--no-watermark turns it off).",
              set: { $0.watermark = try flag("watermark", $1) }, get: { String($0.watermark) }),
    ] + controlNet

    static let byName: [String: RenderParameter] = {
        var out: [String: RenderParameter] = [:]
        for p in all {
            out[p.name] = p
            out[p.column] = p
            out[p.key] = p
        }
        return out
    }()

    /// The parameter called `name` (`guidance-rescale`, `guidance_rescale`, or the diffusers name).
    public static func named(_ name: String) -> RenderParameter? { byName[name] }
}
