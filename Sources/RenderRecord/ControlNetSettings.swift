import Foundation

/// The ControlNets a render uses, as diffusers' `StableDiffusionXLControlNetPipeline` takes them:
/// the models (more than one: `MultiControlNetModel`), one control image each, paired in order,
/// and `controlnet_conditioning_scale`, `control_guidance_start` / `control_guidance_end` (each
/// one value for all, or one per ControlNet; empty: 1.0, 0.0, 1.0) and `guess_mode`. Coded with
/// those names under the request's `controlnet` key.
public struct ControlNetSettings: Sendable, Codable, Equatable {
    /// ControlNet folders (absolute paths).
    public var models: [String] = []
    /// The control images, by SHA-256 like the other stored inputs.
    public var images: [InputReference] = []
    public var scales: [Double] = []
    public var starts: [Double] = []
    public var ends: [Double] = []
    public var guessMode = false

    public static let maxControlNets = 8

    public init() {}

    enum CodingKeys: String, CodingKey {
        case models = "controlnet", images = "image", scales = "controlnet_conditioning_scale"
        case starts = "control_guidance_start", ends = "control_guidance_end", guessMode = "guess_mode"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        models = try c.decodeIfPresent([String].self, forKey: .models) ?? []
        images = try c.decodeIfPresent([InputReference].self, forKey: .images) ?? []
        scales = try c.decodeIfPresent([Double].self, forKey: .scales) ?? []
        starts = try c.decodeIfPresent([Double].self, forKey: .starts) ?? []
        ends = try c.decodeIfPresent([Double].self, forKey: .ends) ?? []
        guessMode = try c.decodeIfPresent(Bool.self, forKey: .guessMode) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(models, forKey: .models)
        try c.encode(images, forKey: .images)
        if !scales.isEmpty { try c.encode(scales, forKey: .scales) }
        if !starts.isEmpty { try c.encode(starts, forKey: .starts) }
        if !ends.isEmpty { try c.encode(ends, forKey: .ends) }
        if guessMode { try c.encode(guessMode, forKey: .guessMode) }
    }

    /// Nothing about ControlNet was given.
    public var isEmpty: Bool { self == ControlNetSettings() }

    /// ControlNet `i`'s value of a list that holds one value for all or one per ControlNet.
    static func value(_ list: [Double], _ i: Int, default d: Double) -> Double { list.isEmpty ? d : list[list.count == 1 ? 0 : i] }
    /// The conditioning scale of ControlNet `i`: given, or the pipeline's default, 1.0 for
    /// text-to-image and inpainting, 0.8 for image-to-image (`StableDiffusionXLControlNetImg2ImgPipeline`).
    public func scale(_ i: Int, imageToImage: Bool = false) -> Double { Self.value(scales, i, default: imageToImage ? 0.8 : 1) }
    public func start(_ i: Int) -> Double { Self.value(starts, i, default: 0) }
    public func end(_ i: Int) -> Double { Self.value(ends, i, default: 1) }

    /// diffusers' `controlnet_keep[step][i]`: whether ControlNet `i` acts at `step` of `count`
    /// steps (`1 - (step / count < start or (step + 1) / count > end)`).
    public func keeps(_ i: Int, step: Int, of count: Int) -> Bool {
        !(Double(step) / Double(count) < start(i) || Double(step + 1) / Double(count) > end(i))
    }

    /// Checks the lists against each other and the request's other parameters; errors name the option.
    func validate(in request: RenderRequest) throws {
        guard !isEmpty else { return }
        func bad(_ p: String, _ r: String) -> RenderError { .invalid(parameter: p, reason: r) }
        let n = models.count
        guard n > 0 else {
            let given = !images.isEmpty ? "control-image" : !scales.isEmpty ? "control-scale" : !starts.isEmpty ? "control-start"
                : !ends.isEmpty ? "control-end" : "guess-mode"
            throw bad(given, "needs --controlnet PATH")
        }
        guard n <= Self.maxControlNets else { throw bad("controlnet", "at most \(Self.maxControlNets) ControlNets, not \(n)") }
        guard images.count == n else {
            throw bad("control-image", "\(images.count) control image(s) for \(n) ControlNet(s); give one --control-image per --controlnet, in the same order")
        }
        for (name, list) in [("control-scale", scales), ("control-start", starts), ("control-end", ends)] where list.count > 1 && list.count != n {
            throw bad(name, "has \(list.count) values for \(n) ControlNet(s); give one value for all or one per --controlnet")
        }
        for s in scales where !(s.isFinite && s >= 0 && s <= 10) { throw bad("control-scale", "must be between 0 and 10, not \(s)") }
        for s in starts where !(s.isFinite && s >= 0 && s <= 1) { throw bad("control-start", "must be between 0 and 1, not \(s)") }
        for e in ends where !(e.isFinite && e >= 0 && e <= 1) { throw bad("control-end", "must be between 0 and 1, not \(e)") }
        for i in 0..<n where start(i) >= end(i) {
            throw bad("control-start", "\(start(i)) must be below control-end \(end(i))\(n > 1 ? " (ControlNet \(i + 1))" : "")")
        }
        // What ControlNet does not run yet is refused rather than run without control.
        if request.latents != nil { throw bad("controlnet", "cannot be combined with --latents yet") }
        if request.mask != nil {
            // StableDiffusionXLControlNetInpaintPipeline takes none of these, so none is run with it.
            for (name, given) in [("timesteps", request.timesteps != nil), ("sigmas", request.sigmas != nil),
                                  ("negative-original-size", request.negativeOriginalSize != nil),
                                  ("negative-target-size", request.negativeTargetSize != nil),
                                  ("negative-crop-top-left", request.negativeCropTopLeft != .zero)] where given {
                throw bad(name, "is not a parameter of diffusers' ControlNet inpainting pipeline; leave it out with --controlnet and --mask")
            }
        } else if request.image != nil {
            // StableDiffusionXLControlNetImg2ImgPipeline takes neither, so neither is run with it.
            for (name, given) in [("denoising-start", request.denoisingStart != nil), ("denoising-end", request.denoisingEnd != nil),
                                  ("timesteps", request.timesteps != nil), ("sigmas", request.sigmas != nil)] where given {
                throw bad(name, "is not a parameter of diffusers' ControlNet image-to-image pipeline; leave it out with --controlnet and --image")
            }
        }
        if request.refiner != nil {
            // diffusers hands a ControlNet pipeline's latents (output_type="latent") to the refiner,
            // which runs without control; its ControlNet image-to-image pipeline has no denoising_end.
            if request.image != nil && request.mask == nil && request.highNoiseFrac != nil {
                throw bad("high-noise-frac", "needs denoising_end, which diffusers' ControlNet image-to-image pipeline lacks; use --refine-after with --controlnet and --image")
            }
        }
        if request.guidanceRescale != 0 && request.mask == nil {  // only the inpainting pipeline takes it
            throw bad("guidance-rescale", "is not a parameter of diffusers' ControlNet pipeline; leave it at 0 with --controlnet")
        }
    }
}

extension RenderParameters {
    /// Numbers for one ControlNet each or one for all, from one value or several joined by ';'
    /// (`--control-scale 0.5 --control-scale 0.8`, or `0.5;0.8` in a sweep).
    static func numberList(_ name: String, _ v: ParameterValue) throws -> [Double] {
        if case .number = v { return [try number(name, v)] }
        return try v.description.split(separator: ";").map { try number(name, .text(String($0))) }
    }

    static func listText(_ list: [Double]) -> String? { list.isEmpty ? nil : list.map { ParameterValue.number($0).description }.joined(separator: ";") }

    /// The ControlNet rows of the parameter table: repeatable options, paired in order.
    static let controlNet: [RenderParameter] = [
        entry("controlnet", "controlnet", .model,
              "A ControlNet for SDXL (diffusers folder, or org/name in the Hugging Face cache) guiding a text-to-image, image-to-image or inpainting render by its --control-image; repeat for several (MultiControlNet), each paired in order with its --control-image.",
              set: { $0.controlnet.models.append(text($1)) },
              get: { r in r.controlnet.models.isEmpty ? nil : r.controlnet.models.map { ($0 as NSString).lastPathComponent }.joined(separator: ";") }),
        entry("control-image", "control_image", .file,
              "A control image (PNG or JPEG: edges, depth, pose) for the --controlnet of the same position; resized to the output size, which it sets when --width/--height are not given.",
              set: { $0.controlnet.images.append(InputReference(sha256: "", file: text($1))) },
              get: { r in r.controlnet.images.isEmpty ? nil : r.controlnet.images.map { (($0.file ?? $0.sha256) as NSString).lastPathComponent }.joined(separator: ";") }),
        entry("control-scale", "controlnet_conditioning_scale", .number,
              "ControlNet conditioning scale, 0...10 (default 1.0; with --image and no --mask 0.8, as diffusers' ControlNet image-to-image pipeline): one for all ControlNets or one per --controlnet (repeat, or join with ';').",
              set: { $0.controlnet.scales += try numberList("control-scale", $1) }, get: { listText($0.controlnet.scales) }),
        entry("control-start", "control_guidance_start", .number,
              "Fraction of the steps at which ControlNet starts acting, 0...1 (default 0): one for all or one per --controlnet.",
              set: { $0.controlnet.starts += try numberList("control-start", $1) }, get: { listText($0.controlnet.starts) }),
        entry("control-end", "control_guidance_end", .number,
              "Fraction of the steps at which ControlNet stops acting, 0...1 (default 1): one for all or one per --controlnet.",
              set: { $0.controlnet.ends += try numberList("control-end", $1) }, get: { listText($0.controlnet.ends) }),
        entry("guess-mode", "guess_mode", .flag,
              "ControlNet's guess mode: the ControlNets see only the prompt's half of guidance, their residuals scaled from 0.1 to 1 by depth (a guidance of 3 to 5 is recommended).",
              set: { $0.controlnet.guessMode = try flag("guess-mode", $1) }, get: { $0.controlnet.guessMode ? "true" : nil }),
    ]
}
