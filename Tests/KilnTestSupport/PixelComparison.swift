import Numerics

/// 8-bit images against a reference `[n, h, w, 3]` tensor of 0...255 values saved by the
/// fixture script: the worst difference and how many values differ.
public struct PixelComparison: CustomStringConvertible {
    public var worst: Float = 0
    public var differing = 0
    /// Image count and every image's size equal the reference's.
    public var sizesMatch = true

    /// Each image as (width, height, RGB bytes).
    public init(_ images: [(width: Int, height: Int, pixels: [UInt8])], _ expected: Tensor) {
        guard expected.rank == 4, images.count == expected.shape[0] else { sizesMatch = false; return }
        for (i, image) in images.enumerated() {
            guard image.width == expected.shape[2], image.height == expected.shape[1] else { sizesMatch = false; return }
            let offset = i * image.pixels.count
            for (j, p) in image.pixels.enumerated() {
                let d = abs(Float(p) - expected[flat: offset + j])
                worst = max(worst, d)
                if d > 0 { differing += 1 }
            }
        }
    }

    public var description: String {
        sizesMatch ? "worst pixel difference \(worst) (\(differing) values differ)" : "image count or size differs from the reference"
    }
}
