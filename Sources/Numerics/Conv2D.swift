import Foundation
/// A 2-D convolution with torch `nn.Conv2d` semantics (groups = 1, dilation = 1) on
/// channels-last input `[batch, height, width, in]`, giving `[batch, outH, outW, out]`.
///
/// The weight is packed once, at construction, from torch's `[out, in, kh, kw]` into one
/// `[in, out]` matrix per kernel tap. 3x3 stride-1 convolutions over enough pixels run by
/// Winograd's F(4x4, 3x3) (`Winograd`); other stride-1 ones as one GEMM per tap over shifted
/// windows of a zero-padded copy of the input (no im2col); strided ones gather patches in bands.
/// In bf16 the packed weights are rounded to bfloat16 (the float32 copy is not kept) and every
/// path runs bf16 GEMMs: Winograd's products on bf16-rounded transformed weights, the others as
/// one GEMM over gathered patches.
public struct Conv2D: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let stride: Int
    /// Zero padding as (top, bottom, left, right).
    public let padding: (top: Int, bottom: Int, left: Int, right: Int)
    /// `[kh * kw, in, out]`, in float32 or bfloat16.
    let weights: Weights
    let bias: Tensor?

    enum Weights: Sendable {
        case fp32(Tensor)
        case bf16(BF16Buffer)
    }

    public var precision: Precision {
        if case .bf16 = weights { return .bf16 }
        return .fp32
    }

    /// Winograd's view of the weights.
    var winogradWeights: Winograd.Weights {
        switch weights {
        case .fp32(let t): return .fp32(UnsafePointer(t.unsafePointer))
        case .bf16(let b): return .bf16(UnsafePointer(b.pointer))
        }
    }

    /// - Parameter torchWeight: `[out, in, kh, kw]` as stored by torch.
    public init(torchWeight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, precision: Precision = .fp32) {
        self.init(torchWeight: torchWeight, bias: bias, stride: stride,
                  padding: (padding, padding, padding, padding), precision: precision)
    }

    public init(torchWeight: Tensor, bias: Tensor?, stride: Int,
                padding: (top: Int, bottom: Int, left: Int, right: Int), precision: Precision = .fp32) {
        precondition(torchWeight.rank == 4)
        let s = torchWeight.shape
        self.init(torchWeight: UnsafePointer(torchWeight.unsafePointer), shape: (s[0], s[1], s[2], s[3]), bias: bias,
                  stride: stride, padding: padding, precision: precision)
    }

    /// - Parameter torchWeight: `[out, in, kh, kw]` float32 values (read during the call only).
    public init(torchWeight src: UnsafePointer<Float>, shape: (out: Int, in: Int, kh: Int, kw: Int), bias: Tensor?, stride: Int,
                padding: (top: Int, bottom: Int, left: Int, right: Int), precision: Precision = .fp32) {
        precondition(stride >= 1)
        let (co, ci, kh, kw) = shape
        inChannels = ci; outChannels = co; kernelHeight = kh; kernelWidth = kw
        self.stride = stride; self.padding = padding; self.bias = bias
        // [out, in, taps] -> [taps, in, out], by input channel in parallel (rounded for bf16).
        let taps = kh * kw, grain = max(1, 65536 / max(co * taps, 1))
        if precision == .bf16 {
            let buffer = BF16Buffer(count: taps * ci * co), dst = buffer.pointer
            parallelFor(ci, grain: grain) { r in
                for i in r { for o in 0..<co { for t in 0..<taps { dst[(t * ci + i) * co + o] = bfloat16(src[(o * ci + i) * taps + t]) } } }
            }
            weights = .bf16(buffer)
        } else {
            let p = Tensor(uninitialized: [taps, ci, co], longLived: true), dst = p.unsafePointer
            parallelFor(ci, grain: grain) { r in
                for i in r { for o in 0..<co { for t in 0..<taps { dst[(t * ci + i) * co + o] = src[(o * ci + i) * taps + t] } } }
            }
            weights = .fp32(p)
        }
    }

    public func outputSize(height h: Int, width w: Int) -> (height: Int, width: Int) {
        ((h + padding.top + padding.bottom - kernelHeight) / stride + 1,
         (w + padding.left + padding.right - kernelWidth) / stride + 1)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let out = winograd(x, upsample: 1) { return out }
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (oh, ow) = outputSize(height: h, width: w)
        let out = Tensor(uninitialized: [n, oh, ow, outChannels])
        let pointwise = kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == (0, 0, 0, 0)
        let co = outChannels
        func forEachImage(_ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
            for b in 0..<n { body(x.unsafePointer + b * h * w * inChannels, out.unsafePointer + b * oh * ow * co) }
        }
        switch weights {
        case .bf16(let b16):
            // One packed [kh * kw * in, out] matrix serves the 1x1 GEMM and the patch GEMMs.
            let matrix = BF16Matrix(bf16Rows: b16.pointer, k: kernelHeight * kernelWidth * inChannels, n: co, ldb: co)
            forEachImage { src, dst in
                if pointwise {
                    fillBias(dst, rows: h * w)
                    bf16GEMM(m: h * w, n: co, a: src, lda: inChannels, b: matrix, c: dst, ldc: co, beta: 1)
                } else {
                    bandedIm2col(src, h: h, w: w, into: dst, oh: oh, ow: ow) { rows, cols, patch, out in
                        bf16GEMM(m: rows, n: co, a: cols, lda: patch, b: matrix, c: out, ldc: co, beta: 1)
                    }
                }
            }
        case .fp32(let packed):
            forEachImage { src, dst in
                if pointwise {
                    fillBias(dst, rows: h * w)
                    gemm(m: h * w, n: co, k: inChannels, a: src, lda: inChannels, b: packed.unsafePointer, ldb: co,
                         c: dst, ldc: co, beta: 1)
                } else if stride == 1 {
                    shiftedWindows(src, h: h, w: w, packed: packed.unsafePointer, into: dst, oh: oh, ow: ow)
                } else {
                    bandedIm2col(src, h: h, w: w, into: dst, oh: oh, ow: ow) { rows, cols, patch, out in
                        gemm(m: rows, n: co, k: patch, a: cols, lda: patch, b: packed.unsafePointer, ldb: co, c: out, ldc: co, beta: 1)
                    }
                }
            }
        }
        return out
    }

    /// `self(upsampleNearest2x(x))`, without the upsampled copy when Winograd serves the
    /// convolution (the VAE decoder's upsamplers: 1 GB less at 1024 px).
    public func afterNearest2x(_ x: Tensor) -> Tensor {
        winograd(x, upsample: 2) ?? self(upsampleNearest2x(x))
    }

    /// The convolution of `x` read as its nearest `upsample`x upsampling, by Winograd, or nil
    /// when Winograd does not serve this convolution (or `KILN_CONV=direct`).
    private func winograd(_ x: Tensor, upsample: Int) -> Tensor? {
        precondition(x.rank == 4 && x.shape[3] == inChannels,
                     "Conv2D expects [N,H,W,\(inChannels)], got \(x.shape)")
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (oh, ow) = outputSize(height: upsample * h, width: upsample * w)
        guard ConvolutionAlgorithm.current == .winograd,
              Winograd.applies(kernel: (kernelHeight, kernelWidth), stride: stride, inChannels: inChannels,
                                 outChannels: outChannels, tiles: n * ((oh + 3) / 4) * ((ow + 3) / 4)) else { return nil }
        let out = Tensor(uninitialized: [n, oh, ow, outChannels])
        Winograd.convolve(x.unsafePointer, n: n, h: h, w: w, ci: inChannels, weights: winogradWeights,
                            co: outChannels, bias: bias?.unsafePointer, top: padding.top, left: padding.left,
                            oh: oh, ow: ow, into: out.unsafePointer, upsample: upsample)
        return out
    }

    private func fillBias(_ dst: UnsafeMutablePointer<Float>, rows: Int) {
        let co = outChannels
        if let bias {
            let bp = bias.unsafePointer
            parallelFor(rows, grain: max(1, 8192 / co)) { r in for row in r { (dst + row * co).update(from: bp, count: co) } }
        } else {
            parallelFor(rows, grain: max(1, 8192 / co)) { r in for row in r { (dst + row * co).update(repeating: 0, count: co) } }
        }
    }

    /// Stride 1: pad into a `(h+pt+pb) x (w+pl+pr)` image; for tap (dy,dx) the input rows needed by a
    /// band of "wide" output rows (width = padded width) are one contiguous window.
    private func shiftedWindows(_ src: UnsafePointer<Float>, h: Int, w: Int, packed: UnsafePointer<Float>,
                                into dst: UnsafeMutablePointer<Float>, oh: Int, ow: Int) {
        let ci = inChannels, co = outChannels
        let ph = h + padding.top + padding.bottom, pw = w + padding.left + padding.right
        let slack = kernelWidth
        let paddedCount = (ph * pw + slack) * ci
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: paddedCount)
        defer { padded.deallocate() }
        padded.initialize(repeating: 0, count: paddedCount)
        parallelFor(h, grain: max(1, 4096 / max(1, w * ci))) { rows in
            for y in rows {
                (padded + ((y + padding.top) * pw + padding.left) * ci).update(from: src + y * w * ci, count: w * ci)
            }
        }
        // Bands of output rows keep the temporary small and the GEMMs large.
        let bandRows = max(1, min(oh, 16384 / pw))
        let wide = UnsafeMutablePointer<Float>.allocate(capacity: bandRows * pw * co)
        defer { wide.deallocate() }
        var y0 = 0
        while y0 < oh {
            let rows = min(bandRows, oh - y0)
            let m = rows * pw
            for tap in 0..<(kernelHeight * kernelWidth) {
                let dy = tap / kernelWidth, dx = tap % kernelWidth
                gemm(m: m, n: co, k: ci, a: padded + ((y0 + dy) * pw + dx) * ci, lda: ci,
                     b: packed + tap * ci * co, ldb: co, c: wide, ldc: co,
                     beta: tap == 0 ? 0 : 1)
            }
            let bp = bias?.unsafePointer
            parallelFor(rows * ow, grain: max(1, 4096 / co)) { r in
                for i in r {
                    let yy = i / ow, xx = i % ow
                    let s = wide + (yy * pw + xx) * co, d = dst + ((y0 + yy) * ow + xx) * co
                    if let bp { for c in 0..<co { d[c] = s[c] + bp[c] } } else { d.update(from: s, count: co) }
                }
            }
            y0 += rows
        }
    }

    /// Any stride: gather the patches of a band of output pixels, then one GEMM per band:
    /// `multiply(rows, patches, patchLength, out)` adds `patches · weights` to `out` (bias-filled).
    private func bandedIm2col(_ src: UnsafePointer<Float>, h: Int, w: Int,
                              into dst: UnsafeMutablePointer<Float>, oh: Int, ow: Int,
                              multiply: (Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Void) {
        let ci = inChannels, co = outChannels, kh = kernelHeight, kw = kernelWidth
        let patch = kh * kw * ci
        let total = oh * ow
        let band = max(1, min(total, (1 << 22) / max(patch, 1)))
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: band * patch)
        defer { cols.deallocate() }
        var p0 = 0
        while p0 < total {
            let count = min(band, total - p0)
            parallelFor(count, grain: max(1, 2048 / patch)) { r in
                for i in r {
                    let p = p0 + i, oy = p / ow, ox = p % ow
                    let row = cols + i * patch
                    for ky in 0..<kh {
                        let iy = oy * stride + ky - padding.top
                        for kx in 0..<kw {
                            let ix = ox * stride + kx - padding.left
                            let d = row + (ky * kw + kx) * ci
                            if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                d.update(from: src + (iy * w + ix) * ci, count: ci)
                            } else {
                                d.update(repeating: 0, count: ci)
                            }
                        }
                    }
                }
            }
            let out = dst + p0 * co
            fillBias(out, rows: count)
            multiply(count, cols, patch, out)
            p0 += count
        }
    }
}
