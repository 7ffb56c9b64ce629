import Foundation
import Numerics

/// A deterministic pseudo-random tensor in [-1, 1) for tests.
func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    let n = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: n)
    for i in 0..<n {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        values[i] = Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1
    }
    return Tensor(shape: shape, scalars: values)
}

/// Direct convolution on channels-last input with a torch-layout weight, in double precision.
func referenceConv(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, pad: (Int, Int, Int, Int)) -> [Double] {
    let (n, h, w, ci) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (co, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
    let oh = (h + pad.0 + pad.1 - kh) / stride + 1, ow = (w + pad.2 + pad.3 - kw) / stride + 1
    var out = [Double](repeating: 0, count: n * oh * ow * co)
    let xs = x.scalars, ws = weight.scalars, bs = bias?.scalars
    for b in 0..<n { for oy in 0..<oh { for ox in 0..<ow { for o in 0..<co {
        var s = bs.map { Double($0[o]) } ?? 0
        for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * stride + ky - pad.0, ix = ox * stride + kx - pad.2
            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
            for i in 0..<ci {
                s += Double(xs[((b * h + iy) * w + ix) * ci + i]) * Double(ws[((o * ci + i) * kh + ky) * kw + kx])
            }
        } }
        out[((b * oh + oy) * ow + ox) * co + o] = s
    } } } }
    return out
}

func maxRelativeError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    let scale = b.map { abs($0) }.max() ?? 1
    return zip(a, b).map { abs(Double($0) - $1) }.max().map { $0 / max(scale, 1e-30) } ?? 0
}
