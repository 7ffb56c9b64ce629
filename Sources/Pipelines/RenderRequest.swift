import Foundation
import Schedulers

/// Height and width in pixels (diffusers passes sizes as (height, width)).
public struct PixelSize: Sendable, Codable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    public var description: String { "\(width)x\(height)" }
}

/// A crop offset (top, left) in pixels, SDXL's `crops_coords_top_left`.
public struct CropOffset: Sendable, Codable, Equatable {
    public var top: Int
    public var left: Int
    public init(top: Int, left: Int) { self.top = top; self.left = left }
    public static let zero = CropOffset(top: 0, left: 0)
}

/// Everything that determines a text-to-image render, with the defaults of diffusers'
/// `StableDiffusionXLPipeline.__call__`.
public struct RenderRequest: Sendable, Codable, Equatable {
    public var prompt: String
    /// Prompt for tokenizer_2/text_encoder_2; diffusers uses `prompt` when it is nil or empty.
    public var prompt2: String?
    /// nil: zeroed negative embeddings when the model says `force_zeros_for_empty_prompt`.
    public var negativePrompt: String?
    public var negativePrompt2: String?
    /// nil: the UNet's `sample_size` times the VAE scale factor (1024 for SDXL).
    public var width: Int?
    public var height: Int?
    public var steps: Int = 50
    public var guidance: Float = 5.0
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
    /// Stop after this fraction of the schedule and return latents (ensemble of experts).
    public var denoisingEnd: Double?
    public var watermark: Bool = true

    public init(prompt: String) { self.prompt = prompt }
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
    /// Checks every parameter before any work is done.
    public func validate() throws {
        func bad(_ p: String, _ r: String) -> RenderError { .invalid(parameter: p, reason: r) }
        if let w = width, w <= 0 || w % 8 != 0 || w > 8192 { throw bad("width", "must be a positive multiple of 8 up to 8192, not \(w)") }
        if let h = height, h <= 0 || h % 8 != 0 || h > 8192 { throw bad("height", "must be a positive multiple of 8 up to 8192, not \(h)") }
        guard steps >= 1, steps <= 1000 else { throw bad("steps", "must be between 1 and 1000, not \(steps)") }
        guard guidance.isFinite, guidance >= 0, guidance <= 100 else { throw bad("guidance", "must be between 0 and 100, not \(guidance)") }
        guard guidanceRescale.isFinite, guidanceRescale >= 0, guidanceRescale <= 1 else { throw bad("guidance-rescale", "must be between 0 and 1, not \(guidanceRescale)") }
        if let c = clipSkip, c < 0 || c > 30 { throw bad("clip-skip", "must be between 0 and 30, not \(c)") }
        guard images >= 1, images <= 64 else { throw bad("images", "must be between 1 and 64, not \(images)") }
        if let d = denoisingEnd, !(d > 0 && d < 1) { throw bad("denoising-end", "must be strictly between 0 and 1, not \(d)") }
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
