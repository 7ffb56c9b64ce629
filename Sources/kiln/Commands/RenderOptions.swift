import ArgumentParser
import Pipelines
import Schedulers

/// The render parameters shared by `kiln render` (and later `kiln enqueue`), with diffusers' defaults.
struct RenderOptions: ParsableArguments {
    @Option(help: "The prompt (for both text encoders unless --prompt-2 is given).") var prompt: String
    @Option(name: .customLong("prompt-2"), help: "Prompt for the second text encoder (OpenCLIP bigG).") var prompt2: String?
    @Option(name: .customLong("negative-prompt"), help: "What to steer away from.") var negativePrompt: String?
    @Option(name: .customLong("negative-prompt-2"), help: "Negative prompt for the second text encoder.") var negativePrompt2: String?
    @Option(help: "Width in pixels, a multiple of 8 (default: the model's, 1024 for SDXL).") var width: Int?
    @Option(help: "Height in pixels, a multiple of 8 (default: the model's, 1024 for SDXL).") var height: Int?
    @Option(help: "Denoising steps.") var steps: Int = 50
    @Option(help: "Classifier-free guidance scale (off at 1 or below).") var guidance: Float = 5.0
    @Option(name: .customLong("guidance-rescale"), help: "Guidance rescale factor, 0...1.") var guidanceRescale: Float = 0
    @Option(help: "Random seed (torch CPU generator); random when omitted, and recorded.") var seed: UInt64?
    @Option(help: "Scheduler: \(SchedulerKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: the model's).") var scheduler: String?
    @Option(name: .customLong("clip-skip"), help: "Text encoder layers to skip.") var clipSkip: Int?
    @Option(name: .customLong("original-size"), help: "Micro-conditioning original size, WxH.") var originalSize: String?
    @Option(name: .customLong("crop-top-left"), help: "Micro-conditioning crop, TOP,LEFT.") var cropTopLeft: String?
    @Option(name: .customLong("target-size"), help: "Micro-conditioning target size, WxH.") var targetSize: String?
    @Option(name: .customLong("negative-original-size"), help: "Negative original size, WxH.") var negativeOriginalSize: String?
    @Option(name: .customLong("negative-crop-top-left"), help: "Negative crop, TOP,LEFT.") var negativeCropTopLeft: String?
    @Option(name: .customLong("negative-target-size"), help: "Negative target size, WxH.") var negativeTargetSize: String?
    @Option(help: "Images per prompt (files FILE-0.png ... FILE-(N-1).png).") var images: Int = 1
    @Option(name: .customLong("denoising-end"), help: "Stop at this fraction of the schedule (0...1) and save latents.") var denoisingEnd: Double?
    @Flag(name: .customLong("no-watermark"), help: "Do not apply the invisible watermark.") var noWatermark = false

    static func size(_ text: String?, _ name: String) throws -> PixelSize? {
        guard let text else { return nil }
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else {
            throw ValidationError("--\(name) must be WIDTHxHEIGHT with positive integers, like 1024x768, not '\(text)'")
        }
        return PixelSize(width: w, height: h)
    }

    static func crop(_ text: String?, _ name: String) throws -> CropOffset {
        guard let text else { return .zero }
        let parts = text.split(separator: ",")
        guard parts.count == 2, let t = Int(parts[0].trimmingCharacters(in: .whitespaces)), let l = Int(parts[1].trimmingCharacters(in: .whitespaces)), t >= 0, l >= 0 else {
            throw ValidationError("--\(name) must be TOP,LEFT with non-negative integers, like 0,256, not '\(text)'")
        }
        return CropOffset(top: t, left: l)
    }

    /// The request these options describe (seed drawn at random when not given).
    func request() throws -> RenderRequest {
        var r = RenderRequest(prompt: prompt)
        r.prompt2 = prompt2; r.negativePrompt = negativePrompt; r.negativePrompt2 = negativePrompt2
        r.width = width; r.height = height; r.steps = steps; r.guidance = guidance; r.guidanceRescale = guidanceRescale
        r.seed = seed ?? UInt64.random(in: 0..<(1 << 32))
        r.scheduler = try scheduler.map { try SchedulerKind(name: $0) }
        r.clipSkip = clipSkip
        r.originalSize = try RenderOptions.size(originalSize, "original-size")
        r.cropTopLeft = try RenderOptions.crop(cropTopLeft, "crop-top-left")
        r.targetSize = try RenderOptions.size(targetSize, "target-size")
        r.negativeOriginalSize = try RenderOptions.size(negativeOriginalSize, "negative-original-size")
        r.negativeCropTopLeft = try RenderOptions.crop(negativeCropTopLeft, "negative-crop-top-left")
        r.negativeTargetSize = try RenderOptions.size(negativeTargetSize, "negative-target-size")
        r.images = images
        r.denoisingEnd = denoisingEnd
        r.watermark = !noWatermark
        try r.validate()
        return r
    }
}

import Foundation
