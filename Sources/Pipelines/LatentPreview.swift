import Imaging
import Numerics

/// A small picture of latents while they are denoised, one pixel per latent pixel (1/8 of the
/// image a side): ComfyUI's linear SDXL approximation (`latent_rgb_factors` and
/// `latent_rgb_factors_bias` of its SDXL latent format), applied to the latents the UNet sees,
/// then `((rgb + 1) / 2).clamp(0, 1) * 255` truncated to bytes as its previewer does. Several
/// images of a batch are laid side by side. A preview only reads the latents: it never changes
/// the render.
public enum LatentPreview {
    /// Rows: latent channels 0...3; columns: R, G, B.
    static let factors: [Float] = [
        0.3651, 0.4232, 0.4341,
        -0.2533, -0.0042, 0.1068,
        0.1076, 0.1111, -0.0362,
        -0.3165, -0.2492, -0.2188,
    ]
    static let bias: [Float] = [0.1084, -0.0175, -0.0011]

    /// The preview of channels-last latents `[n, h, w, 4]`; nil for any other shape (a latent
    /// space this approximation does not describe).
    public static func image(_ latents: Tensor) -> RGBImage? {
        guard latents.rank == 4, latents.shape[3] == 4 else { return nil }
        let n = latents.shape[0], h = latents.shape[1], w = latents.shape[2]
        guard n > 0, h > 0, w > 0 else { return nil }
        let width = n * w
        var pixels = [UInt8](repeating: 0, count: width * h * 3)
        let p = latents.unsafePointer
        pixels.withUnsafeMutableBufferPointer { out in
            for image in 0..<n {
                for y in 0..<h {
                    for x in 0..<w {
                        let src = ((image * h + y) * w + x) * 4
                        let dst = (y * width + image * w + x) * 3
                        for c in 0..<3 {
                            var v = bias[c]
                            for k in 0..<4 { v += p[src + k] * factors[k * 3 + c] }
                            let unit = min(max((v + 1) / 2, 0), 1)
                            out[dst + c] = unit.isNaN ? 0 : UInt8(unit * 255)  // truncated, as torch's uint8 cast
                        }
                    }
                }
            }
        }
        return RGBImage(width: width, height: h, pixels: pixels)
    }
}

extension RenderSession {
    /// The latents of the stage in progress as a `LatentPreview`.
    public func preview() -> RGBImage? { LatentPreview.image(active.latents) }
}
