extension RGBImage {
    /// PIL's `Image.crop(box)` of an RGB image: the `box.width` x `box.height` pixels from
    /// (`x1`, `y1`); any part of the box outside the image is black (PIL fills it with zeros).
    /// A box of no width or height gives an empty image, as PIL does. Throws `invalidCrop` for a
    /// box PIL refuses (right < left, bottom < top), and for one over `ImageLimits.default`.
    public func cropped(to box: CropRegion) throws -> RGBImage {
        let (w, h) = try Cropping.size(of: box)
        return RGBImage(width: w, height: h, pixels: Cropping.crop(pixels, width: width, height: height, channels: 3, box: box))
    }
}

extension GrayImage {
    /// PIL's `Image.crop(box)` of an "L" image, as `RGBImage.cropped(to:)`.
    public func cropped(to box: CropRegion) throws -> GrayImage {
        let (w, h) = try Cropping.size(of: box)
        return GrayImage(width: w, height: h, pixels: Cropping.crop(pixels, width: width, height: height, channels: 1, box: box))
    }
}

enum Cropping {
    /// The size of `box`'s crop, or the error PIL's `crop` (or its bomb check, here
    /// `ImageLimits.default`) raises.
    static func size(of box: CropRegion) throws -> (width: Int, height: Int) {
        let (w, wOverflow) = box.x2.subtractingReportingOverflow(box.x1)
        let (h, hOverflow) = box.y2.subtractingReportingOverflow(box.y1)
        let limits = ImageLimits.default
        guard !wOverflow, !hOverflow, w >= 0, h >= 0, w <= limits.maxSide, h <= limits.maxSide, w * h <= limits.maxPixels else {
            throw ImageGeometryError.invalidCrop(box)
        }
        return (w, h)
    }

    /// Rows of `box` (already checked by `size(of:)`) copied out of `pixels`, zeros outside it.
    static func crop(_ pixels: [UInt8], width: Int, height: Int, channels: Int, box: CropRegion) -> [UInt8] {
        let outWidth = box.x2 - box.x1, outHeight = box.y2 - box.y1
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * channels)
        // Columns of the source inside both the box and the image.
        let left = max(box.x1, 0), right = min(box.x2, width)
        guard right > left else { return out }
        let run = (right - left) * channels
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                guard let s = s.baseAddress, let o = o.baseAddress else { return }
                for y in max(box.y1, 0)..<max(min(box.y2, height), max(box.y1, 0)) {
                    let from = s + (y * width + left) * channels
                    let to = o + ((y - box.y1) * outWidth + (left - box.x1)) * channels
                    to.update(from: from, count: run)
                }
            }
        }
        return out
    }
}
