import Foundation
import KilnBasics

/// Pillow's `Image.resize(size, Image.LANCZOS)` and `Image.resize(size, Image.BICUBIC)` on
/// 8-bit images, bit for bit (Pillow 13's `libImaging/Resample.c`): a separable two-pass
/// convolution with the filter's window (Lanczos-3, or Keys' cubic with a = -0.5) widened by the
/// downscale factor; per output pixel the window's weights are computed in double, divided by
/// their sum, then rounded to 22-bit fixed point (`PRECISION_BITS`); each pass accumulates in
/// 32-bit integers from a half-unit start and clips to 0...255. The horizontal pass runs first
/// (over only the rows the vertical pass reads) unless the height shrinks by more than twice as
/// many pixels as the width, in which case the vertical pass runs first, as Pillow decides it.
/// An optional source `box` (PIL's `resize(size, box=)`, in floats as Pillow holds it) resamples
/// only that part of the image, down to boxes of no width or height (each output pixel then
/// weighs the few pixels at the box's edge, as diffusers' "fill" strips use it).
enum ConvolutionResampler {
    /// Pillow's `struct filter`s used here: the weight function and its support.
    enum Kernel {
        case lanczos, bicubic

        var support: Double {
            switch self {
            case .lanczos: return 3.0
            case .bicubic: return 2.0
            }
        }

        @inline(__always)
        func weight(_ x: Double) -> Double {
            switch self {
            case .lanczos: return ConvolutionResampler.lanczos(x)
            case .bicubic: return ConvolutionResampler.bicubic(x)
            }
        }
    }

    static let precisionBits = 22

    /// Filter taps for one axis: output i reads `count[i]` inputs from `first[i]` with the
    /// fixed-point weights `weights[i * taps ..< i * taps + count[i]]`.
    struct Coefficients {
        let taps: Int
        var first: [Int]
        var count: [Int]
        var weights: [Int32]

        /// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for the source span
        /// `in0 ..< in1` of the axis (a resize box's sides, floats as in Pillow; `0 ..< inSize`
        /// without a box).
        init(kernel: Kernel, inSize: Int, from in0: Float, to in1: Float, outSize: Int) {
            let scale = Double(in1 - in0) / Double(outSize)
            let filterScale = max(scale, 1.0)
            let support = kernel.support * filterScale
            taps = Int(support.rounded(.up)) * 2 + 1
            first = [Int](repeating: 0, count: outSize)
            count = [Int](repeating: 0, count: outSize)
            weights = [Int32](repeating: 0, count: outSize * taps)
            let inverse = 1.0 / filterScale
            var k = [Double](repeating: 0, count: taps)
            for xx in 0..<outSize {
                let center = Double(in0) + (Double(xx) + 0.5) * scale
                let xmin = max(Int(center - support + 0.5), 0)
                let xmax = min(Int(center + support + 0.5), inSize) - xmin
                var sum = 0.0
                for x in 0..<max(xmax, 0) {
                    let w = kernel.weight((Double(x + xmin) - center + 0.5) * inverse)
                    k[x] = w
                    sum += w
                }
                for x in 0..<max(xmax, 0) {
                    if sum != 0.0 { k[x] /= sum }
                    let scaled = k[x] * Double(1 << ConvolutionResampler.precisionBits)
                    let rounded = (k[x] < 0 ? -0.5 + scaled : 0.5 + scaled).rounded(.towardZero)
                    weights[xx * taps + x] = Int32(min(max(rounded, -2147483648), 2147483647))
                }
                first[xx] = xmin
                count[xx] = max(xmax, 0)
            }
        }
    }

    static func sinc(_ x: Double) -> Double {
        if x == 0.0 { return 1.0 }
        let y = x * Double.pi
        return sin(y) / y
    }

    static func lanczos(_ x: Double) -> Double {
        (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0
    }

    /// Pillow's `bicubic_filter` (a = -0.5), evaluated in the same order.
    static func bicubic(_ x: Double) -> Double {
        let a = -0.5
        let x = x < 0.0 ? -x : x
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
        if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0.0
    }

    /// `pixels` (`width` x `height`, `channels` bytes per pixel, 1 or 3), or the part of them in
    /// `box` (whole image if nil; it must lie within the image), resized to `newWidth` x
    /// `newHeight` (both at least 1). Which passes run is decided as in Pillow's
    /// `ImagingResampleInner` (from the box), their order from the image and output sizes.
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, newWidth: Int, newHeight: Int,
                       kernel: Kernel, box: ResampleBox? = nil) -> [UInt8] {
        let box = box ?? ResampleBox(x0: 0, y0: 0, x1: Float(width), y1: Float(height))
        let needHorizontal = newWidth != width || box.x0 != 0 || box.x1 != Float(newWidth)
        let needVertical = newHeight != height || box.y0 != 0 || box.y1 != Float(newHeight)
        guard needHorizontal || needVertical else { return pixels }
        let horizontalFirst = !((height - newHeight) > 0 && (height - newHeight) > (width - newWidth) * 2)
        var vertical = Coefficients(kernel: kernel, inSize: height, from: box.y0, to: box.y1, outSize: newHeight)
        let horizontal = needHorizontal ? Coefficients(kernel: kernel, inSize: width, from: box.x0, to: box.x1, outSize: newWidth) : nil
        if horizontalFirst {
            var current = pixels
            if let horizontal {
                // Only the rows the vertical pass reads.
                let top = vertical.first[0], bottom = vertical.first[newHeight - 1] + vertical.count[newHeight - 1]
                for i in 0..<newHeight { vertical.first[i] -= top }
                current = horizontalPass(pixels, width: width, rows: top..<bottom, channels: channels, coefficients: horizontal)
            }
            return needVertical ? verticalPass(current, rowLength: newWidth * channels, rows: newHeight, coefficients: vertical) : current
        }
        var current = verticalPass(pixels, rowLength: width * channels, rows: newHeight, coefficients: vertical)
        if let horizontal {
            current = horizontalPass(current, width: width, rows: 0..<newHeight, channels: channels, coefficients: horizontal)
        }
        return current
    }

    @inline(__always)
    static func clip8(_ v: Int32) -> UInt8 {
        UInt8(truncatingIfNeeded: min(max(v >> Int32(precisionBits), 0), 255))
    }

    /// Resamples each of `rows` of the source along x; the result has `rows.count` rows.
    static func horizontalPass(_ src: [UInt8], width: Int, rows: Range<Int>, channels: Int, coefficients c: Coefficients) -> [UInt8] {
        let outWidth = c.first.count
        var out = [UInt8](repeating: 0, count: rows.count * outWidth * channels)
        let half = Int32(1) << Int32(precisionBits - 1)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                c.weights.withUnsafeBufferPointer { kk in
                    c.first.withUnsafeBufferPointer { first in
                        c.count.withUnsafeBufferPointer { count in
                            guard let s = s.baseAddress, let o = o.baseAddress, let kk = kk.baseAddress,
                                  let first = first.baseAddress, let count = count.baseAddress else { return }
                            parallelFor(rows.count, grain: max(1, 32768 / max(outWidth, 1))) { range in
                                for r in range {
                                    let line = s + (rows.lowerBound + r) * width * channels
                                    let outLine = o + r * outWidth * channels
                                    for xx in 0..<outWidth {
                                        let k = kk + xx * c.taps
                                        let n = count[xx]
                                        if channels == 1 {
                                            let p = line + first[xx]
                                            var ss0 = half
                                            for x in 0..<n { ss0 &+= Int32(p[x]) &* k[x] }
                                            outLine[xx] = clip8(ss0)
                                        } else {
                                            let p = line + first[xx] * 3
                                            var ss0 = half, ss1 = half, ss2 = half
                                            for x in 0..<n {
                                                let w = k[x]
                                                ss0 &+= Int32(p[3 * x]) &* w
                                                ss1 &+= Int32(p[3 * x + 1]) &* w
                                                ss2 &+= Int32(p[3 * x + 2]) &* w
                                            }
                                            outLine[3 * xx] = clip8(ss0)
                                            outLine[3 * xx + 1] = clip8(ss1)
                                            outLine[3 * xx + 2] = clip8(ss2)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Resamples along y: output row i is the weighted sum of source rows
    /// `first[i] ..< first[i] + count[i]`, every byte of a row independently.
    static func verticalPass(_ src: [UInt8], rowLength: Int, rows: Int, coefficients c: Coefficients) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rows * rowLength)
        let half = Int32(1) << Int32(precisionBits - 1)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                c.weights.withUnsafeBufferPointer { kk in
                    guard let s = s.baseAddress, let o = o.baseAddress, let kk = kk.baseAddress else { return }
                    parallelFor(rows, grain: max(1, 32768 / max(rowLength, 1))) { range in
                        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowLength)
                        defer { acc.deallocate() }
                        for yy in range {
                            acc.initialize(repeating: half, count: rowLength)
                            let k = kk + yy * c.taps
                            for y in 0..<c.count[yy] {
                                let w = k[y]
                                let line = s + (c.first[yy] + y) * rowLength
                                for i in 0..<rowLength { acc[i] &+= Int32(line[i]) &* w }
                            }
                            let outLine = o + yy * rowLength
                            for i in 0..<rowLength { outLine[i] = clip8(acc[i]) }
                        }
                    }
                }
            }
        }
        return out
    }
}
