import Imaging
import Numerics

/// An RGB image (Imaging, which knows no tensors) from and to the tensors the models use.
extension RGBImage {
    /// From a decoded VAE image `[1, h, w, 3]` roughly in [-1, 1], as diffusers' postprocess:
    /// `clamp(x * 0.5 + 0.5, 0, 1)`, then `round(x * 255)` (half to even, as numpy).
    public init(decoded t: Tensor) {
        precondition(t.rank == 4 && t.shape[0] == 1 && t.shape[3] == 3, "expected [1, h, w, 3], got \(t.shape)")
        let p = t.unsafePointer
        self.init(width: t.shape[2], height: t.shape[1], pixels: (0..<t.count).map { i in
            let v = min(max(p[i] * 0.5 + 0.5, 0), 1)
            return UInt8((v * 255).rounded(.toNearestOrEven))
        })
    }

    /// Pixel values as floats `[1, h, w, 3]` in 0...255.
    public func floats() -> Tensor {
        Tensor(shape: [1, height, width, 3], scalars: pixels.map(Float.init))
    }
}
