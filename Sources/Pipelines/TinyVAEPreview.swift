import Foundation
import Imaging
import ModelFiles
import Models
import Numerics

/// `kiln work --preview-vae`: previews that are an AutoencoderTiny's decode of the latents
/// (madebyollin/taesdxl) instead of `LatentPreview`'s linear approximation. Built once per worker
/// in float32 and held outside the model cache's budget (taesdxl is about 10 MB). Each image of
/// the batch is divided by the VAE's `scaling_factor` (1.0 for taesdxl) as diffusers' pipelines
/// do before `vae.decode`, decoded, turned into bytes as `VaeImageProcessor.postprocess` does,
/// and, when its long side exceeds `maxSide`, resized with PIL's LANCZOS to a long side of
/// `maxSide` (the short side `round(side * maxSide / long)`, at least 1). The images are laid side
/// by side. A preview only reads the latents: it never changes the render.
public struct TinyVAEPreview: Sendable {
    /// The longest side of one image of a preview, in pixels.
    public static let maxSide = 256

    public let path: String
    let vae: AutoencoderTiny

    /// Opens an AutoencoderTiny folder; anything else (missing, a file, an AutoencoderKL, a VAE
    /// for other than 4 latent channels) is one line naming `preview-vae`.
    public init(path: String) throws {
        func refuse(_ reason: String) -> RenderError { .invalid(parameter: "preview-vae", reason: reason) }
        let wanted = "give an AutoencoderTiny folder (config.json and diffusion_pytorch_model.safetensors, as madebyollin/taesdxl ships them)"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw refuse("\(path) does not exist; \(wanted)") }
        guard isDir.boolValue else {
            let pickled = ["ckpt", "pt", "pth", "bin"].contains((path as NSString).pathExtension.lowercased()) ? " (a pickled PyTorch file, which Kiln does not read)" : ""
            throw refuse("\(path) is a file\(pickled), not a folder; \(wanted)")
        }
        do {
            let files = try VAEFiles(path: path)
            guard files.className == .autoencoderTiny, let config = files.config else {
                throw refuse("\(path) is an \(files.className.rawValue), not an AutoencoderTiny; \(wanted)")
            }
            guard case .tiny(let vae) = try files.autoencoder(pipelineConfig: config, precision: .fp32) else {
                throw refuse("\(path) is not an AutoencoderTiny; \(wanted)")
            }
            guard vae.config.latentChannels == 4 else {
                throw refuse("\(path) decodes \(vae.config.latentChannels) latent channels but SDXL's latents have 4; give an SDXL AutoencoderTiny (madebyollin/taesdxl)")
            }
            self.vae = vae
        } catch let error as ModelFileError {
            throw refuse("\(error)")
        }
        self.path = path
    }

    /// The preview of channels-last latents `[n, h, w, 4]`; nil for any other shape.
    public func image(_ latents: Tensor) -> RGBImage? {
        guard latents.rank == 4, latents.shape[3] == vae.config.latentChannels, latents.shape[0] > 0,
              latents.shape[1] > 0, latents.shape[2] > 0 else { return nil }
        // One image at a time, so a batch's activations are never all in memory at once.
        let images = (0..<latents.shape[0]).map { i -> RGBImage in
            let decoded = RGBImage(decoded: vae.decode(latents.slice(batch: i).divided(by: vae.config.scalingFactor)))
            return TinyVAEPreview.capped(decoded)
        }
        return TinyVAEPreview.sideBySide(images)
    }

    /// The image with its long side at most `maxSide` (PIL LANCZOS, aspect ratio kept).
    static func capped(_ image: RGBImage) -> RGBImage {
        let long = max(image.width, image.height)
        guard long > maxSide else { return image }
        func side(_ s: Int) -> Int { max(1, Int((Double(s) * Double(maxSide) / Double(long)).rounded())) }
        return image.resized(width: side(image.width), height: side(image.height), filter: .lanczos)
    }

    /// Images of one size in a row, left to right (at least one image).
    static func sideBySide(_ images: [RGBImage]) -> RGBImage {
        guard images.count > 1 else { return images[0] }
        let w = images[0].width, h = images[0].height, width = w * images.count
        var pixels = [UInt8](repeating: 0, count: width * h * 3)
        for (i, image) in images.enumerated() {
            for y in 0..<h {
                let src = y * w * 3, dst = (y * width + i * w) * 3
                pixels.replaceSubrange(dst..<dst + w * 3, with: image.pixels[src..<src + w * 3])
            }
        }
        return RGBImage(width: width, height: h, pixels: pixels)
    }
}

extension RenderSession {
    /// The latents of the stage in progress as `decoder`'s preview, or as `LatentPreview` without one.
    public func preview(decoder: TinyVAEPreview?) -> RGBImage? {
        guard let decoder else { return preview() }
        return decoder.image(active.latents)
    }
}
