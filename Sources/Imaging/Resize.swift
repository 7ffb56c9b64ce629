/// The resampling filters of PIL's `Image.resize` that diffusers' `VaeImageProcessor` uses:
/// `lanczos` (its default `resample="lanczos"`) and `nearest` (used for masks by some pipelines).
/// Resizing to the same size returns the image unchanged, as PIL returns a copy.
public enum ResampleFilter: String, Sendable, Equatable, CaseIterable {
    case lanczos, nearest
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

enum Resampling {
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, newWidth: Int, newHeight: Int, filter: ResampleFilter) -> [UInt8] {
        switch filter {
        case .lanczos:
            return LanczosResampler.resize(pixels, width: width, height: height, channels: channels, newWidth: newWidth, newHeight: newHeight)
        case .nearest:
            return NearestResampler.resize(pixels, width: width, height: height, channels: channels, newWidth: newWidth, newHeight: newHeight)
        }
    }
}
