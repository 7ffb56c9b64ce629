/// The resampling filters of PIL's `Image.resize` used on diffusers' way: `lanczos` (the
/// `VaeImageProcessor`'s default `resample="lanczos"`), `nearest` (used for masks by some
/// pipelines) and `bicubic` (PIL's own default when no `resample` is given, as in the edge strips
/// of diffusers' `_resize_and_fill`). Resizing to the same size returns the image unchanged, as
/// PIL returns a copy.
public enum ResampleFilter: String, Sendable, Equatable, CaseIterable {
    case lanczos, nearest, bicubic
}

extension RGBImage {
    /// PIL's `image.resize((width, height), resample=filter)` of an RGB image, bit for bit.
    /// `width` and `height` must be at least 1.
    public func resized(width newWidth: Int, height newHeight: Int, filter: ResampleFilter = .lanczos) -> RGBImage {
        precondition(newWidth >= 1 && newHeight >= 1, "resize to \(newWidth)x\(newHeight): both sides must be at least 1")
        let out = Resampling.resize(pixels, width: width, height: height, channels: 3, newWidth: newWidth, newHeight: newHeight, filter: filter)
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }
}

extension GrayImage {
    /// PIL's `image.resize((width, height), resample=filter)` of an "L" image, bit for bit.
    /// `width` and `height` must be at least 1.
    public func resized(width newWidth: Int, height newHeight: Int, filter: ResampleFilter = .lanczos) -> GrayImage {
        precondition(newWidth >= 1 && newHeight >= 1, "resize to \(newWidth)x\(newHeight): both sides must be at least 1")
        let out = Resampling.resize(pixels, width: width, height: height, channels: 1, newWidth: newWidth, newHeight: newHeight, filter: filter)
        return GrayImage(width: newWidth, height: newHeight, pixels: out)
    }
}

/// A source box for a resize: left, top, right, bottom, as Pillow's `float box[4]`.
struct ResampleBox {
    var x0: Float, y0: Float, x1: Float, y1: Float
}

enum Resampling {
    /// `pixels`, or the part of them in `box` (whole image if nil; it must lie within the image),
    /// resized to `newWidth` x `newHeight` (both at least 1).
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, newWidth: Int, newHeight: Int,
                       filter: ResampleFilter, box: ResampleBox? = nil) -> [UInt8] {
        switch filter {
        case .lanczos:
            return ConvolutionResampler.resize(pixels, width: width, height: height, channels: channels, newWidth: newWidth,
                                               newHeight: newHeight, kernel: .lanczos, box: box)
        case .bicubic:
            return ConvolutionResampler.resize(pixels, width: width, height: height, channels: channels, newWidth: newWidth,
                                               newHeight: newHeight, kernel: .bicubic, box: box)
        case .nearest:
            return NearestResampler.resize(pixels, width: width, height: height, channels: channels, newWidth: newWidth,
                                           newHeight: newHeight, box: box)
        }
    }
}
