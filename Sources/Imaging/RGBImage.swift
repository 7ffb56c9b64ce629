import Foundation
import Numerics

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3)
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// From a decoded VAE image `[1, h, w, 3]` roughly in [-1, 1], as diffusers' postprocess:
    /// `clamp(x * 0.5 + 0.5, 0, 1)`, then `round(x * 255)` (half to even, as numpy).
    public init(decoded t: Tensor) {
        precondition(t.rank == 4 && t.shape[0] == 1 && t.shape[3] == 3, "expected [1, h, w, 3], got \(t.shape)")
        height = t.shape[1]; width = t.shape[2]
        let p = t.unsafePointer
        pixels = (0..<t.count).map { i in
            let v = min(max(p[i] * 0.5 + 0.5, 0), 1)
            return UInt8((v * 255).rounded(.toNearestOrEven))
        }
    }

    /// Pixel values as floats `[1, h, w, 3]` in 0...255.
    public func floats() -> Tensor {
        Tensor(shape: [1, height, width, 3], scalars: pixels.map(Float.init))
    }
}
