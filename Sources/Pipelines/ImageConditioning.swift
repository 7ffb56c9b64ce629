import Foundation
import Imaging
import Models
import Numerics

/// What diffusers' `VaeImageProcessor` and the SDXL img2img/inpaint pipelines do to input
/// images and masks before the loop: resize (PIL's LANCZOS), normalise to [-1, 1], binarise the
/// mask, cut the masked image, downsample the mask to the latent grid, and encode with the VAE
/// (sampling the latent distribution with the pipeline's generator).
enum ImageConditioning {
    /// The image at the processing size: resized (LANCZOS), or with `padding_mask_crop` cropped
    /// to the mask's region and fitted with the "fill" resize mode, as `preprocess` does.
    static func fitted(_ image: RGBImage, size: PixelSize, crop: CropRegion?) throws -> RGBImage {
        guard let crop else { return image.resized(width: size.width, height: size.height, filter: .lanczos) }
        return try image.cropped(to: crop).resized(width: size.width, height: size.height, mode: .fill)
    }

    /// `[1, H, W, 3]` in [-1, 1]: `preprocess(image, height, width, crops_coords)`.
    static func imageTensor(_ image: RGBImage, size: PixelSize, crop: CropRegion?) throws -> Tensor {
        let resized = try fitted(image, size: size, crop: crop)
        let out = Tensor(uninitialized: [1, size.height, size.width, 3])
        let o = out.unsafePointer
        resized.pixels.withUnsafeBufferPointer { p in
            for i in 0..<p.count { o[i] = 2 * (Float(p[i]) / 255) - 1 }
        }
        return out
    }

    /// `[1, H, W, 1]` of 0 and 1: the mask processor's resize of the RGB mask, conversion to
    /// grayscale ("L"), `x / 255` and binarisation at 0.5.
    static func maskTensor(_ mask: RGBImage, size: PixelSize, crop: CropRegion?) throws -> Tensor {
        let gray = GrayImage(try fitted(mask, size: size, crop: crop))
        let out = Tensor(uninitialized: [1, size.height, size.width, 1])
        let o = out.unsafePointer
        gray.pixels.withUnsafeBufferPointer { p in
            for i in 0..<p.count { o[i] = Float(p[i]) / 255 >= 0.5 ? 1 : 0 }
        }
        return out
    }

    /// `init_image * (mask < 0.5)`: the kept part of the image, the rest 0 (mid-gray).
    static func maskedImage(_ image: Tensor, mask: Tensor) -> Tensor {
        let out = Tensor(uninitialized: image.shape)
        let c = image.shape[3], pixels = image.count / c
        let s = image.unsafePointer, m = mask.unsafePointer, o = out.unsafePointer
        for p in 0..<pixels {
            let keep: Float = m[p] < 0.5 ? 1 : 0
            for k in 0..<c { o[p * c + k] = s[p * c + k] * keep }
        }
        return out
    }

    /// `torch.nn.functional.interpolate(mask, size=(h/f, w/f))` (mode "nearest"): sample
    /// `floor(i * scale)` with the float32 scale `in / out`.
    static func latentMask(_ mask: Tensor, height: Int, width: Int) -> Tensor {
        let (n, ih, iw) = (mask.shape[0], mask.shape[1], mask.shape[2])
        let out = Tensor(uninitialized: [n, height, width, 1])
        let sy = Float(ih) / Float(height), sx = Float(iw) / Float(width)
        let s = mask.unsafePointer, o = out.unsafePointer
        for b in 0..<n {
            for y in 0..<height {
                let srcY = min(Int((Float(y) * sy).rounded(.down)), ih - 1)
                for x in 0..<width {
                    let srcX = min(Int((Float(x) * sx).rounded(.down)), iw - 1)
                    o[(b * height + y) * width + x] = s[(b * ih + srcY) * iw + srcX]
                }
            }
        }
        return out
    }

    /// `retrieve_latents(vae.encode(image), generator)` times the scaling factor: an
    /// AutoencoderKL's latent sample (`latent_dist.sample(generator)`: mean + std * randn, drawn
    /// in torch's NCHW order); an AutoencoderTiny's `latents`, drawing nothing.
    static func encode(_ image: Tensor, vae: ImageAutoencoder, tiled: Bool, generator: inout TorchGenerator) throws -> Tensor {
        let kl: AutoencoderKL
        switch vae {
        case .kl(let v): kl = v
        case .tiny(let v):
            guard !tiled else { throw VAEError.tiledTiny }
            return v.encode(image).scaled(by: v.config.scalingFactor)
        }
        let distribution = try kl.encode(image, tiled: tiled)
        let eps = generator.randn(NCHWShape.of(distribution.mean.shape)).nchwToNHWC()
        let std = distribution.standardDeviation
        let factor = kl.config.scalingFactor
        let out = Tensor(uninitialized: distribution.mean.shape)
        let m = distribution.mean.unsafePointer, s = std.unsafePointer, e = eps.unsafePointer, o = out.unsafePointer
        for i in 0..<out.count { o[i] = factor * (m[i] + s[i] * e[i]) }
        return out
    }

    /// The draw `encode` makes, without the encoder: diffusers encodes the masked image for
    /// 4-channel UNets too and never uses it, but its draw moves the generator on (an
    /// AutoencoderTiny's encoding draws nothing).
    static func skipEncodeDraw(latentShape: [Int], vae: ImageAutoencoder, generator: inout TorchGenerator) {
        guard case .kl = vae else { return }
        _ = generator.randn(NCHWShape.of(latentShape))
    }
}

/// Torch's NCHW shape of a channels-last `[n, h, w, c]` shape.
enum NCHWShape {
    static func of(_ s: [Int]) -> [Int] { [s[0], s[3], s[1], s[2]] }
}
