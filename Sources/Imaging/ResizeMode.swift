/// diffusers' `VaeImageProcessor.resize(image, height, width, resize_mode=)` for PIL images, with
/// the processor's default `resample="lanczos"`. Inpainting with `padding_mask_crop` prepares the
/// cropped image and mask with `fill`, and `apply_overlay` fits the generated image into the crop
/// region with `crop`.
public enum ResizeMode: String, Sendable, Equatable, CaseIterable {
    /// `"default"`: PIL's `resize((width, height), LANCZOS)`, stretching to the size.
    case `default`
    /// `"fill"` (`_resize_and_fill`): scaled to fit inside the size keeping its aspect ratio,
    /// centred on black, then the two uncovered bands filled with strips resampled from the
    /// image's outermost rows or columns (PIL resizes of a zero-height or zero-width box, with
    /// PIL's default BICUBIC: diffusers passes no `resample` there).
    case fill
    /// `"crop"` (`_resize_and_crop`): scaled to cover the size keeping its aspect ratio,
    /// centred, the overhang cut off.
    case crop
}

extension RGBImage {
    /// diffusers' `VaeImageProcessor.resize(image, height, width, resize_mode)` of an RGB PIL
    /// image, bit for bit (the result is RGB in every mode: diffusers pastes onto
    /// `Image.new("RGB", ...)`). Divisions are Python's: the aspect ratios compared as doubles,
    /// the kept side scaled with floor division, the offsets `width // 2 - src_w // 2`.
    ///
    /// Throws `invalidSize` for a target side below 1 or over `ImageLimits.default`, and
    /// `unfittable` when keeping the aspect ratio needs an intermediate side of 0 pixels (PIL
    /// refuses it) or an intermediate image over `ImageLimits.default` (or for an empty image).
    public func resized(width newWidth: Int, height newHeight: Int, mode: ResizeMode) throws -> RGBImage {
        let limits = ImageLimits.default
        guard limits.allow(width: newWidth, height: newHeight) else {
            throw ImageGeometryError.invalidSize(width: newWidth, height: newHeight)
        }
        switch mode {
        case .default:
            guard width >= 1, height >= 1 else { throw unfittable(newWidth, newHeight, width, height) }
            return resized(width: newWidth, height: newHeight, filter: .lanczos)
        case .fill:
            return try resizedToFill(width: newWidth, height: newHeight)
        case .crop:
            return try resizedToCrop(width: newWidth, height: newHeight)
        }
    }

    private func unfittable(_ newWidth: Int, _ newHeight: Int, _ w: Int, _ h: Int) -> ImageGeometryError {
        .unfittable(width: width, height: height, toWidth: newWidth, toHeight: newHeight, intermediateWidth: w, intermediateHeight: h)
    }

    /// `_resize_and_fill`.
    private func resizedToFill(width newWidth: Int, height newHeight: Int) throws -> RGBImage {
        guard width >= 1, height >= 1 else { throw unfittable(newWidth, newHeight, width, height) }
        let ratio = Double(newWidth) / Double(newHeight)
        let sourceRatio = Double(width) / Double(height)
        let srcW = ratio < sourceRatio ? newWidth : width * newHeight / height
        let srcH = ratio >= sourceRatio ? newHeight : height * newWidth / width
        guard ImageLimits.default.allow(width: srcW, height: srcH) else { throw unfittable(newWidth, newHeight, srcW, srcH) }
        let scaled = resized(width: srcW, height: srcH, filter: .lanczos)
        var out = RGBImage.black(width: newWidth, height: newHeight)
        out.paste(scaled, x: newWidth / 2 - srcW / 2, y: newHeight / 2 - srcH / 2)
        // Bands above and below (or left and right): strips resampled from a box of no height
        // at the top and bottom rows (or of no width at the first and last columns).
        if ratio < sourceRatio {
            let fillHeight = newHeight / 2 - srcH / 2
            if fillHeight > 0 {
                let top = CropRegion(x1: 0, y1: 0, x2: newWidth, y2: 0), bottom = CropRegion(x1: 0, y1: srcH, x2: newWidth, y2: srcH)
                out.paste(try scaled.resized(width: newWidth, height: fillHeight, box: top, filter: .bicubic), x: 0, y: 0)
                out.paste(try scaled.resized(width: newWidth, height: fillHeight, box: bottom, filter: .bicubic), x: 0, y: fillHeight + srcH)
            }
        } else if ratio > sourceRatio {
            let fillWidth = newWidth / 2 - srcW / 2
            if fillWidth > 0 {
                let left = CropRegion(x1: 0, y1: 0, x2: 0, y2: newHeight), right = CropRegion(x1: srcW, y1: 0, x2: srcW, y2: newHeight)
                out.paste(try scaled.resized(width: fillWidth, height: newHeight, box: left, filter: .bicubic), x: 0, y: 0)
                out.paste(try scaled.resized(width: fillWidth, height: newHeight, box: right, filter: .bicubic), x: fillWidth + srcW, y: 0)
            }
        }
        return out
    }

    /// `_resize_and_crop`.
    private func resizedToCrop(width newWidth: Int, height newHeight: Int) throws -> RGBImage {
        guard width >= 1, height >= 1 else { throw unfittable(newWidth, newHeight, width, height) }
        let ratio = Double(newWidth) / Double(newHeight)
        let sourceRatio = Double(width) / Double(height)
        let srcW = ratio > sourceRatio ? newWidth : width * newHeight / height
        let srcH = ratio <= sourceRatio ? newHeight : height * newWidth / width
        guard ImageLimits.default.allow(width: srcW, height: srcH) else { throw unfittable(newWidth, newHeight, srcW, srcH) }
        var out = RGBImage.black(width: newWidth, height: newHeight)
        out.paste(resized(width: srcW, height: srcH, filter: .lanczos), x: newWidth / 2 - srcW / 2, y: newHeight / 2 - srcH / 2)
        return out
    }
}
