/// diffusers' `VaeImageProcessor.apply_overlay(mask, init_image, image, crop_coords)`, bit for
/// bit with Pillow: how inpainting with `padding_mask_crop` puts the generated image back into
/// the original. `mask` and `original` are the pipeline's inputs as `load_image` gave them (the
/// full-size mask and image, before any crop); `image` is the generated image; `crop` the region
/// from `CropRegion(mask:width:height:pad:)`.
///
/// With a region, `image` is first fitted to it (`resized(mode: .crop)`) and pasted at its
/// place on a black canvas of the original's size (PIL: a transparent RGBA canvas, then
/// `convert("RGB")`); without one it is used as it is. Then the original is laid over it where
/// the mask is dark, in Pillow's integer steps: the original becomes premultiplied RGBa (alpha
/// 255, unchanged values), is pasted onto a transparent RGBa canvas through the inverted "L"
/// mask `m = 255 - L` (`Paste.c`: each channel and the alpha `DIV255(v * m)`), is converted to
/// RGBA (`Convert.c`: `255 * v / alpha` clipped, for alpha other than 0 and 255) and
/// alpha-composited over the opaque canvas (`AlphaComposite.c`, 7-bit fixed-point weights),
/// which is returned as RGB. The result has the canvas's size: the original's with a region,
/// `image`'s without (only where the two overlap is the original laid over, as PIL's
/// `Image.alpha_composite` crops and pastes back).
///
/// Throws `sizeMismatch` if `mask` and `original` differ in size (PIL: "images do not match"),
/// `emptyRegion` for a region of no area, and what `resized(mode: .crop)` throws.
public func applyOverlay(mask: RGBImage, original: RGBImage, image: RGBImage, crop: CropRegion?) throws -> RGBImage {
    guard mask.width == original.width, mask.height == original.height else {
        throw ImageGeometryError.sizeMismatch(maskWidth: mask.width, maskHeight: mask.height,
                                              imageWidth: original.width, imageHeight: original.height)
    }
    var canvas: RGBImage
    if let crop {
        guard crop.width >= 1, crop.height >= 1 else { throw ImageGeometryError.emptyRegion(crop) }
        let fitted = try image.resized(width: crop.width, height: crop.height, mode: .crop)
        canvas = RGBImage.black(width: original.width, height: original.height)
        canvas.paste(fitted, x: crop.x1, y: crop.y1)
    } else {
        canvas = image
    }
    Overlay.layOver(original: original, mask: mask, canvas: &canvas)
    return canvas
}

enum Overlay {
    /// `(v + 128 + ((v + 128) >> 8)) >> 8`: Pillow's `DIV255`, v / 255 rounded.
    @inline(__always)
    static func div255(_ v: UInt32) -> UInt32 {
        let t = v &+ 128
        return ((t >> 8) &+ t) >> 8
    }

    /// Pillow's `SHIFTFORDIV255`.
    @inline(__always)
    static func shiftForDiv255(_ v: UInt32) -> UInt32 { ((v >> 8) &+ v) >> 8 }

    /// The original, through the inverted mask, composited over `canvas` (opaque) where the two
    /// overlap; `original` and `mask` have the same size.
    static func layOver(original: RGBImage, mask: RGBImage, canvas: inout RGBImage) {
        let width = min(original.width, canvas.width), height = min(original.height, canvas.height)
        guard width > 0, height > 0 else { return }
        let sourceWidth = original.width, canvasWidth = canvas.width
        let precision: UInt32 = 7
        original.pixels.withUnsafeBufferPointer { o in
            mask.pixels.withUnsafeBufferPointer { m in
                canvas.pixels.withUnsafeMutableBufferPointer { c in
                    for y in 0..<height {
                        for x in 0..<width {
                            let s = (y * sourceWidth + x) * 3, d = (y * canvasWidth + x) * 3
                            // convert("L"), then ImageOps.invert.
                            let luma = (UInt32(m[s]) * 19595 + UInt32(m[s + 1]) * 38470 + UInt32(m[s + 2]) * 7471 + 0x8000) >> 16
                            let weight = 255 - luma
                            // RGB -> RGBA -> RGBa leaves the values (alpha 255); paste through the
                            // mask onto transparent black: BLEND(weight, 0, v).
                            let alpha = div255(255 * weight)
                            guard alpha != 0 else { continue }  // alpha_composite keeps the canvas
                            var r = div255(UInt32(o[s]) * weight), g = div255(UInt32(o[s + 1]) * weight)
                            var b = div255(UInt32(o[s + 2]) * weight)
                            // RGBa -> RGBA.
                            if alpha != 255 {
                                r = min(255 * r / alpha, 255); g = min(255 * g / alpha, 255); b = min(255 * b / alpha, 255)
                            }
                            // alpha_composite of (r, g, b, alpha) over the canvas pixel (alpha 255).
                            let blend = 255 * (255 - alpha)
                            let outAlpha255 = alpha * 255 + blend
                            let coef1 = alpha * 255 * 255 * (1 << precision) / outAlpha255
                            let coef2 = 255 * (1 << precision) - coef1
                            let half: UInt32 = 0x80 << precision
                            c[d] = UInt8(truncatingIfNeeded: shiftForDiv255(r * coef1 + UInt32(c[d]) * coef2 + half) >> precision)
                            c[d + 1] = UInt8(truncatingIfNeeded: shiftForDiv255(g * coef1 + UInt32(c[d + 1]) * coef2 + half) >> precision)
                            c[d + 2] = UInt8(truncatingIfNeeded: shiftForDiv255(b * coef1 + UInt32(c[d + 2]) * coef2 + half) >> precision)
                        }
                    }
                }
            }
        }
    }
}
