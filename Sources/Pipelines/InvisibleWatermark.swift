import Foundation
import Imaging
import Numerics

/// SDXL's invisible watermark as diffusers applies it (`StableDiffusionXLWatermarker` with
/// invisible-watermark's "dwtDct" method): 48 bits in the U channel of OpenCV's float YUV, one
/// bit per 4x4 block of the one-level Haar approximation band, quantising each block's
/// largest-magnitude coefficient (other than [0,0]) to a multiple of 36 plus 0.25 or 0.75.
/// The inverse transform is called with the horizontal and vertical bands swapped, exactly as
/// upstream does. Images narrower than 256 pixels are left alone.
public struct InvisibleWatermark: Sendable {
    public let bits: [UInt8]
    public let scale: Float = 36
    public static let sdxlMessage: UInt64 = 0xB3EC_907B_B19E
    public static let sdxl = InvisibleWatermark(message: sdxlMessage, bitCount: 48)

    public init(message: UInt64, bitCount: Int) {
        bits = (0..<bitCount).map { UInt8((message >> UInt64(bitCount - 1 - $0)) & 1) }
    }

    /// The float U channel of OpenCV's BGR->YUV for values in 0...255 (delta 0.5 for floats).
    static func uChannel(r: Float, g: Float, b: Float) -> (y: Float, u: Float, v: Float) {
        let y = b * 0.114 + g * 0.587 + r * 0.299
        return (y, (b - y) * 0.492 + 0.5, (r - y) * 0.877 + 0.5)
    }

    /// Applies the mark to a decoded image `[1, h, w, 3]` in [-1, 1]; returns the same layout.
    public func apply(toDecoded image: Tensor) -> Tensor {
        let (h, w) = (image.shape[1], image.shape[2])
        guard w >= 256 else { return image }
        let src = image.unsafePointer
        let n = h * w
        var yPlane = [Float](repeating: 0, count: n), uPlane = yPlane, vPlane = yPlane
        for i in 0..<n {
            let r = 255 * (src[3 * i] / 2 + 0.5), g = 255 * (src[3 * i + 1] / 2 + 0.5), b = 255 * (src[3 * i + 2] / 2 + 0.5)
            (yPlane[i], uPlane[i], vPlane[i]) = InvisibleWatermark.uChannel(r: r, g: g, b: b)
        }
        embed(&uPlane, width: w, height: h)
        let out = Tensor(uninitialized: image.shape)
        let dst = out.unsafePointer
        for i in 0..<n {
            let y = yPlane[i], u = uPlane[i] - 0.5, v = vPlane[i] - 0.5
            let b = y + 2.032 * u, g = y - 0.395 * u - 0.581 * v, r = y + 1.140 * v
            for (c, value) in [r, g, b].enumerated() { dst[3 * i + c] = min(max(2 * (value / 255 - 0.5), -1), 1) }
        }
        return out
    }

    /// Haar analysis of the top-left (h/4*4) x (w/4*4) region: (approximation, horizontal, vertical, diagonal).
    static func haar(_ plane: [Float], width: Int, rows: Int, cols: Int) -> ([Float], [Float], [Float], [Float]) {
        let (hr, hc) = (rows / 2, cols / 2)
        var a = [Float](repeating: 0, count: hr * hc), hd = a, vd = a, dd = a
        let s: Float = 0.70710678118654757
        for i in 0..<hr {
            for j in 0..<hc {
                let x00 = plane[(2 * i) * width + 2 * j], x01 = plane[(2 * i) * width + 2 * j + 1]
                let x10 = plane[(2 * i + 1) * width + 2 * j], x11 = plane[(2 * i + 1) * width + 2 * j + 1]
                // Rows first (axis 0), then columns, each with the orthonormal Haar pair.
                let lo0 = (x00 + x10) * s, lo1 = (x01 + x11) * s, hi0 = (x00 - x10) * s, hi1 = (x01 - x11) * s
                a[i * hc + j] = (lo0 + lo1) * s
                vd[i * hc + j] = (lo0 - lo1) * s
                hd[i * hc + j] = (hi0 + hi1) * s
                dd[i * hc + j] = (hi0 - hi1) * s
            }
        }
        return (a, hd, vd, dd)
    }

    /// Position in a 4x4 block (row-major, 1...15) of the largest |value| other than [0,0]; first on ties.
    static func peak(_ a: [Float], cols: Int, bi: Int, bj: Int) -> (Int, Int) {
        var best = -Float.infinity, pos = 1
        for p in 1..<16 {
            let v = abs(a[(bi * 4 + p / 4) * cols + bj * 4 + p % 4])
            if v > best { best = v; pos = p }
        }
        return (bi * 4 + pos / 4, bj * 4 + pos % 4)
    }

    func embed(_ u: inout [Float], width: Int, height: Int) {
        let rows = height / 4 * 4, cols = width / 4 * 4
        var (a, hd, vd, dd) = InvisibleWatermark.haar(u, width: width, rows: rows, cols: cols)
        let (hr, hc) = (rows / 2, cols / 2)
        var k = 0
        for bi in 0..<(hr / 4) {
            for bj in 0..<(hc / 4) {
                let bit = Float(bits[k % bits.count])
                let (i, j) = InvisibleWatermark.peak(a, cols: hc, bi: bi, bj: bj)
                let v = a[i * hc + j]
                let q = ((abs(v) / scale).rounded(.down) + 0.25 + 0.5 * bit) * scale
                a[i * hc + j] = v >= 0 ? q : -q
                k += 1
            }
        }
        swap(&hd, &vd)  // upstream passes (cA, (cV, cH, cD)) to the inverse transform
        let s: Float = 0.70710678118654757
        for i in 0..<hr {
            for j in 0..<hc {
                let idx = i * hc + j
                let lo0 = (a[idx] + vd[idx]) * s, lo1 = (a[idx] - vd[idx]) * s
                let hi0 = (hd[idx] + dd[idx]) * s, hi1 = (hd[idx] - dd[idx]) * s
                u[(2 * i) * width + 2 * j] = (lo0 + hi0) * s
                u[(2 * i + 1) * width + 2 * j] = (lo0 - hi0) * s
                u[(2 * i) * width + 2 * j + 1] = (lo1 + hi1) * s
                u[(2 * i + 1) * width + 2 * j + 1] = (lo1 - hi1) * s
            }
        }
    }

    /// Reads the bits back from an 8-bit image: the same transform, then per bit position the
    /// share of its blocks whose peak has `|v| mod 36 > 18`, thresholded as upstream (mean * 255 > 127).
    public func decode(_ image: RGBImage) -> [UInt8]? {
        let (w, h) = (image.width, image.height)
        let rows = h / 4 * 4, cols = w / 4 * 4
        guard rows >= 8, cols >= 8 else { return nil }
        var u = [Float](repeating: 0, count: w * h)
        for i in 0..<(w * h) {
            let p = image.pixels
            u[i] = InvisibleWatermark.uChannel(r: Float(p[3 * i]), g: Float(p[3 * i + 1]), b: Float(p[3 * i + 2])).u
        }
        let (a, _, _, _) = InvisibleWatermark.haar(u, width: w, rows: rows, cols: cols)
        let (hr, hc) = (rows / 2, cols / 2)
        var votes = [Int](repeating: 0, count: bits.count), counts = votes
        var k = 0
        for bi in 0..<(hr / 4) {
            for bj in 0..<(hc / 4) {
                let (i, j) = InvisibleWatermark.peak(a, cols: hc, bi: bi, bj: bj)
                let v = abs(a[i * hc + j])
                if v.truncatingRemainder(dividingBy: scale) > 0.5 * scale { votes[k % bits.count] += 1 }
                counts[k % bits.count] += 1
                k += 1
            }
        }
        guard counts.allSatisfy({ $0 > 0 }) else { return nil }
        return zip(votes, counts).map { Double($0) / Double($1) * 255 > 127 ? 1 : 0 }
    }

    /// Bits as an integer, most significant first.
    public static func value(_ bits: [UInt8]) -> UInt64 { bits.reduce(0) { $0 << 1 | UInt64($1) } }
}
