/// Edges as OpenCV's `cv2.Canny(image, low, high)` finds them with its defaults (3x3 Sobel
/// with replicated borders, L1 gradient magnitude), on an RGB image as diffusers' ControlNet
/// documentation passes it (`np.array(load_image(...))`): per pixel, the channel with the
/// largest magnitude (the first on a tie) gives the gradient; non-maximum suppression in four
/// sectors (tan 22.5° in OpenCV's 15-bit fixed point, its `>` and `>=`); hysteresis joins weak
/// pixels 8-connected to strong ones. Thresholds are swapped when `low > high` and floored, as
/// OpenCV does. Edges are 255, the rest 0; `GrayImage.rgb` stacks them to three channels.
public enum CannyEdges {
    /// What `detect` refuses: thresholds OpenCV would take but that mean nothing (NaN, infinity).
    public struct InvalidThreshold: Error, CustomStringConvertible {
        public let name: String, value: Double
        public var description: String { "Canny threshold \(name) must be a finite number, not \(value)" }
    }

    public static func detect(_ image: RGBImage, low: Double, high: Double) throws -> GrayImage {
        guard low.isFinite else { throw InvalidThreshold(name: "low", value: low) }
        guard high.isFinite else { throw InvalidThreshold(name: "high", value: high) }
        let (lo, hi) = low > high ? (high, low) : (low, high)
        // Magnitudes lie in 0...2040; clamping keeps the floor's meaning and the Int in range.
        let lowBound = Int32(min(max(lo, -1), 1_048_576).rounded(.down))
        let highBound = Int32(min(max(hi, -1), 1_048_576).rounded(.down))
        let w = image.width, h = image.height
        guard w > 0, h > 0 else { return GrayImage(width: w, height: h, pixels: []) }
        let stride = w + 2
        // Magnitude, gradient and map with a one-pixel border: magnitude 0 and "no edge" outside.
        var magnitude = [Int32](repeating: 0, count: stride * (h + 2))
        var gx = [Int16](repeating: 0, count: w * h)
        var gy = [Int16](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { px in
            magnitude.withUnsafeMutableBufferPointer { mag in
                gx.withUnsafeMutableBufferPointer { dx in
                    gy.withUnsafeMutableBufferPointer { dy in
                        sobel(px, width: w, height: h, magnitude: mag, dx: dx, dy: dy)
                    }
                }
            }
        }
        var map = [UInt8](repeating: 1, count: stride * (h + 2))
        var stack: [Int] = []
        stack.reserveCapacity(max(1024, w * h / 10))
        magnitude.withUnsafeBufferPointer { mag in
            gx.withUnsafeBufferPointer { dx in
                gy.withUnsafeBufferPointer { dy in
                    map.withUnsafeMutableBufferPointer { m in
                        suppress(mag, dx: dx, dy: dy, width: w, height: h, low: lowBound, high: highBound,
                                 map: m, strong: &stack)
                        follow(&stack, map: m, stride: stride)
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: w * h)
        map.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<h {
                    let row = (y + 1) * stride + 1
                    for x in 0..<w where m[row + x] == 2 { o[y * w + x] = 255 }
                }
            }
        }
        return GrayImage(width: w, height: h, pixels: out)
    }

    /// Sobel `dx = [-1 0 1] x [1 2 1]ᵀ`, `dy` its transpose, with replicated borders, per
    /// channel; keeps the channel whose `|dx| + |dy|` is largest.
    private static func sobel(_ px: UnsafeBufferPointer<UInt8>, width w: Int, height h: Int,
                              magnitude: UnsafeMutableBufferPointer<Int32>,
                              dx: UnsafeMutableBufferPointer<Int16>, dy: UnsafeMutableBufferPointer<Int16>) {
        let stride = w + 2
        for y in 0..<h {
            let up = max(y - 1, 0) * w * 3, mid = y * w * 3, down = min(y + 1, h - 1) * w * 3
            for x in 0..<w {
                let l = max(x - 1, 0) * 3, c = x * 3, r = min(x + 1, w - 1) * 3
                var best: Int32 = -1, bestX: Int32 = 0, bestY: Int32 = 0
                for k in 0..<3 {
                    @inline(__always) func p(_ row: Int, _ col: Int) -> Int32 { Int32(px[row + col + k]) }
                    let gx = (p(up, r) - p(up, l)) + 2 * (p(mid, r) - p(mid, l)) + (p(down, r) - p(down, l))
                    let gy = (p(down, l) - p(up, l)) + 2 * (p(down, c) - p(up, c)) + (p(down, r) - p(up, r))
                    let m = abs(gx) + abs(gy)
                    if m > best { best = m; bestX = gx; bestY = gy }
                }
                magnitude[(y + 1) * stride + x + 1] = best
                dx[y * w + x] = Int16(bestX)
                dy[y * w + x] = Int16(bestY)
            }
        }
    }

    /// Non-maximum suppression: map 2 for a strong pixel (pushed), 0 for a weak one, 1 otherwise.
    private static func suppress(_ mag: UnsafeBufferPointer<Int32>, dx: UnsafeBufferPointer<Int16>,
                                 dy: UnsafeBufferPointer<Int16>, width w: Int, height h: Int, low: Int32, high: Int32,
                                 map: UnsafeMutableBufferPointer<UInt8>, strong: inout [Int]) {
        let stride = w + 2
        let shift = 15
        let tan22 = Int64((0.4142135623730950488016887242097 * Double(1 << shift) + 0.5).rounded(.down))
        for y in 0..<h {
            for x in 0..<w {
                let i = (y + 1) * stride + x + 1
                let m = mag[i]
                guard m > low else { continue }
                let xs = Int64(dx[y * w + x]), ys = Int64(dy[y * w + x])
                let ax = abs(xs), ay = abs(ys) << shift
                let tg22x = ax * tan22
                let isMaximum: Bool
                if ay < tg22x {
                    isMaximum = m > mag[i - 1] && m >= mag[i + 1]
                } else if ay > tg22x + (ax << (shift + 1)) {
                    isMaximum = m > mag[i - stride] && m >= mag[i + stride]
                } else {
                    let s = (xs ^ ys) < 0 ? -1 : 1
                    isMaximum = m > mag[i - stride - s] && m > mag[i + stride + s]
                }
                guard isMaximum else { continue }
                if m > high {
                    map[i] = 2
                    strong.append(i)
                } else {
                    map[i] = 0
                }
            }
        }
    }

    /// Hysteresis: every weak pixel 8-connected to an edge becomes one.
    private static func follow(_ stack: inout [Int], map: UnsafeMutableBufferPointer<UInt8>, stride: Int) {
        let neighbours = [-1, 1, -stride - 1, -stride, -stride + 1, stride - 1, stride, stride + 1]
        while let i = stack.popLast() {
            for d in neighbours where map[i + d] == 0 {
                map[i + d] = 2
                stack.append(i + d)
            }
        }
    }
}
