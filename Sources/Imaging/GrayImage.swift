/// An 8-bit single-channel image (PIL mode "L"), row-major, one byte per pixel: inpainting masks.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "expected \(width * height) pixels, got \(pixels.count)")
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// PIL's `convert("L")` of an RGB image: ITU-R 601-2 luma in PIL's 16-bit fixed point,
    /// `(r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16` (equal to Pillow for all 2^24 colours).
    public init(_ rgb: RGBImage) {
        width = rgb.width; height = rgb.height
        let count = rgb.width * rgb.height
        var out = [UInt8](repeating: 0, count: count)
        rgb.pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<count {
                    let l = UInt32(s[3 * i]) * 19595 + UInt32(s[3 * i + 1]) * 38470 + UInt32(s[3 * i + 2]) * 7471 + 0x8000
                    o[i] = UInt8(truncatingIfNeeded: l >> 16)
                }
            }
        }
        pixels = out
    }

    /// PIL's `convert("RGB")` of an "L" image: the value repeated in R, G and B.
    public var rgb: RGBImage {
        var out = [UInt8](repeating: 0, count: pixels.count * 3)
        pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<s.count { o[3 * i] = s[i]; o[3 * i + 1] = s[i]; o[3 * i + 2] = s[i] }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
