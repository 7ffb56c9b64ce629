import Foundation
import CKilnKernels
@testable import Numerics
import XCTest

final class ConvolutionTests: XCTestCase {
    func check(n: Int = 2, h: Int, w: Int, ci: Int, co: Int, k: Int, stride: Int, pad: (Int, Int, Int, Int), bias: Bool) {
        let x = randomTensor([n, h, w, ci], seed: UInt64(h * 31 + w * 7 + ci + k))
        let weight = randomTensor([co, ci, k, k], seed: UInt64(co * 13 + k))
        let b = bias ? randomTensor([co], seed: 99) : nil
        let conv = Conv2D(torchWeight: weight, bias: b, stride: stride, padding: pad)
        let y = conv(x)
        let expected = referenceConv(x, weight: weight, bias: b, stride: stride, pad: pad)
        XCTAssertEqual(y.count, expected.count, "output size \(y.shape)")
        XCTAssertLessThan(maxRelativeError(y.scalars, expected), 1e-5, "k\(k) s\(stride) pad\(pad) \(h)x\(w)")
        XCTAssertTrue(conv(x).scalars == y.scalars, "bit-identical on repeat")
    }

    func testStrideOneKernels() {
        check(h: 9, w: 7, ci: 5, co: 6, k: 3, stride: 1, pad: (1, 1, 1, 1), bias: true)
        check(h: 6, w: 11, ci: 3, co: 4, k: 5, stride: 1, pad: (2, 2, 2, 2), bias: false)
        check(h: 5, w: 5, ci: 8, co: 3, k: 1, stride: 1, pad: (0, 0, 0, 0), bias: true)
        check(h: 8, w: 6, ci: 4, co: 4, k: 3, stride: 1, pad: (0, 0, 0, 0), bias: true)
    }

    func testStridedAndAsymmetricPadding() {
        check(h: 9, w: 8, ci: 4, co: 5, k: 3, stride: 2, pad: (1, 1, 1, 1), bias: true)
        check(h: 8, w: 8, ci: 3, co: 3, k: 3, stride: 2, pad: (0, 1, 0, 1), bias: true)
        check(h: 7, w: 10, ci: 2, co: 6, k: 1, stride: 2, pad: (0, 0, 0, 0), bias: false)
    }

    func testLargeBandedInput() {
        // Enough rows that the stride-1 path processes several bands.
        check(n: 1, h: 70, w: 300, ci: 3, co: 4, k: 3, stride: 1, pad: (1, 1, 1, 1), bias: true)
    }
}

final class NormalizationTests: XCTestCase {
    func testGroupNormMatchesDefinition() {
        let (n, hw, c, groups) = (2, 37, 12, 3)
        let x = randomTensor([n, hw, c], seed: 5), g = randomTensor([c], seed: 6), b = randomTensor([c], seed: 7)
        let norm = GroupNorm(groups: groups, epsilon: 1e-5, weight: g, bias: b)
        for silu in [false, true] {
            let y = norm(x, silu: silu).scalars
            let xs = x.scalars
            var expected = [Double](repeating: 0, count: x.count)
            let per = c / groups
            for bb in 0..<n { for gg in 0..<groups {
                var values: [Double] = []
                for p in 0..<hw { for ch in (gg * per)..<((gg + 1) * per) { values.append(Double(xs[(bb * hw + p) * c + ch])) } }
                let mean = values.reduce(0, +) / Double(values.count)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
                for p in 0..<hw { for ch in (gg * per)..<((gg + 1) * per) {
                    let i = (bb * hw + p) * c + ch
                    var v = (Double(xs[i]) - mean) / (variance + 1e-5).squareRoot() * Double(g[flat: ch]) + Double(b[flat: ch])
                    if silu { v = v / (1 + exp(-v)) }
                    expected[i] = v
                } }
            } }
            XCTAssertLessThan(maxRelativeError(y, expected), 1e-5)
        }
    }

    func testLayerNormMatchesDefinition() {
        let x = randomTensor([3, 5, 16], seed: 8), g = randomTensor([16], seed: 9), b = randomTensor([16], seed: 10)
        let y = LayerNorm(epsilon: 1e-5, weight: g, bias: b)(x).scalars
        let xs = x.scalars
        var expected = [Double]()
        for row in 0..<15 {
            let v = (0..<16).map { Double(xs[row * 16 + $0]) }
            let mean = v.reduce(0, +) / 16
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 16
            for j in 0..<16 { expected.append((v[j] - mean) / (variance + 1e-5).squareRoot() * Double(g[flat: j]) + Double(b[flat: j])) }
        }
        XCTAssertLessThan(maxRelativeError(y, expected), 1e-5)
    }
}

final class AttentionTests: XCTestCase {
    func reference(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool) -> [Double] {
        let (batch, nq, width) = (q.shape[0], q.shape[1], q.shape[2]), nk = k.shape[1], d = width / heads
        let qs = q.scalars, ks = k.scalars, vs = v.scalars
        var out = [Double](repeating: 0, count: q.count)
        for b in 0..<batch { for h in 0..<heads { for i in 0..<nq {
            var scores = [Double](repeating: -Double.infinity, count: nk)
            for j in 0..<nk where !causal || j <= i {
                var s = 0.0
                for t in 0..<d { s += Double(qs[(b * nq + i) * width + h * d + t]) * Double(ks[(b * nk + j) * width + h * d + t]) }
                scores[j] = s / Double(d).squareRoot()
            }
            let m = scores.max()!
            let e = scores.map { exp($0 - m) }
            let sum = e.reduce(0, +)
            for t in 0..<d {
                var acc = 0.0
                for j in 0..<nk { acc += e[j] / sum * Double(vs[(b * nk + j) * width + h * d + t]) }
                out[(b * nq + i) * width + h * d + t] = acc
            }
        } } }
        return out
    }

    func testSmallCrossAttention() {
        let q = randomTensor([2, 13, 12], seed: 1), k = randomTensor([2, 7, 12], seed: 2), v = randomTensor([2, 7, 12], seed: 3)
        let y = multiHeadAttention(q: q, k: k, v: v, heads: 3)
        XCTAssertLessThan(maxRelativeError(y.scalars, reference(q: q, k: k, v: v, heads: 3, causal: false)), 1e-5)
    }

    func testCausalSelfAttention() {
        let x = randomTensor([1, 9, 8], seed: 4), k = randomTensor([1, 9, 8], seed: 5), v = randomTensor([1, 9, 8], seed: 6)
        let y = multiHeadAttention(q: x, k: k, v: v, heads: 2, causal: true)
        XCTAssertLessThan(maxRelativeError(y.scalars, reference(q: x, k: k, v: v, heads: 2, causal: true)), 1e-5)
    }

    func testLargeAttentionIsBlockedAndExact() {
        // Big enough for several query blocks and the OpenBLAS-threaded path.
        let q = randomTensor([1, 600, 128], seed: 7), k = randomTensor([1, 1200, 128], seed: 8), v = randomTensor([1, 1200, 128], seed: 9)
        let y = multiHeadAttention(q: q, k: k, v: v, heads: 2)
        XCTAssertLessThan(maxRelativeError(y.scalars, reference(q: q, k: k, v: v, heads: 2, causal: false)), 1e-5)
        XCTAssertTrue(multiHeadAttention(q: q, k: k, v: v, heads: 2).scalars == y.scalars, "bit-identical on repeat")
    }

    /// The fused float32 kernel (`kiln_f32_attention`: keys 512 at a time, online softmax) and the
    /// score-block path both within 1e-5 of float64 on shapes that cut chunks, panels and query
    /// blocks unevenly, with sharp softmaxes whose maximum moves between chunks; rows independent
    /// of the blocking.
    func testFusedFloat32AttentionIsExactAsTheScoreBlockPath() throws {
        try XCTSkipUnless(kiln_cpu_has_avx512f() != 0, "the fused float32 kernel needs AVX-512F")
        for (nq, nk, heads, d, sharpness) in [(101, 1100, 3, 64, 1.0), (101, 1100, 2, 80, 6.0), (7, 77, 2, 64, 6.0), (200, 513, 1, 128, 3.0)] {
            let label = "\(nq) queries, \(nk) keys, \(heads)x\(d), sharpness \(sharpness)"
            let q = Tensor(shape: [1, nq, heads * d], scalars: randomTensor([1, nq, heads * d], seed: UInt64(nq)).scalars.map { $0 * Float(sharpness) })
            let k = randomTensor([1, nk, heads * d], seed: UInt64(nk)), v = randomTensor([1, nk, heads * d], seed: UInt64(nk + 1))
            let expected = reference(q: q, k: k, v: v, heads: heads, causal: false)
            let fused = multiHeadAttention(q: q, k: k, v: v, heads: heads)
            let blocks = multiHeadAttention(q: q, k: k, v: v, heads: heads, causal: false, keyMask: nil, precision: .fp32, fused: false)
            XCTAssertNotEqual(fused.scalars, blocks.scalars, "\(label): the fused kernel ran")
            XCTAssertLessThan(maxRelativeError(fused.scalars, expected), 1e-5, label)
            XCTAssertLessThan(maxRelativeError(blocks.scalars, expected), 1e-5, label)
        }
        let q = randomTensor([1, 150, 128], seed: 31), k = randomTensor([1, 600, 128], seed: 32), v = randomTensor([1, 600, 128], seed: 33)
        let whole = multiHeadAttention(q: q, k: k, v: v, heads: 2)
        let first = multiHeadAttention(q: Tensor(shape: [1, 53, 128], scalars: Array(q.scalars[0..<(53 * 128)])), k: k, v: v, heads: 2)
        XCTAssertEqual(first.scalars, Array(whole.scalars[0..<(53 * 128)]))
    }
}

final class ElementwiseTests: XCTestCase {
    func testActivationsAtKnownPoints() {
        XCTAssertEqual(Activation.gelu.apply(1), 0.8413447, accuracy: 1e-6)
        XCTAssertEqual(Activation.geluTanh.apply(1), 0.8411920, accuracy: 1e-6)
        XCTAssertEqual(Activation.quickGelu.apply(1), Float(1 / (1 + exp(-1.702))), accuracy: 1e-6)
        XCTAssertEqual(Activation.silu.apply(-2), Float(-2 / (1 + exp(2.0))), accuracy: 1e-6)
        let g = geglu(Tensor(shape: [1, 4], scalars: [2, 3, 1, -1]))
        XCTAssertEqual(g[flat: 0], 2 * 0.8413447, accuracy: 1e-5)
        XCTAssertEqual(g[flat: 1], 3 * Activation.gelu.apply(-1), accuracy: 1e-5)
    }

    func testTimestepEmbeddingFollowsDiffusersFormula() {
        let e = timestepEmbedding([0, 500], dim: 8, flipSinToCos: true, downscaleFreqShift: 0)
        XCTAssertEqual(e.shape, [2, 8])
        // t = 0: cos half is 1, sin half is 0 (flipped: cos first).
        XCTAssertEqual(Array(e.scalars[0..<8]), [1, 1, 1, 1, 0, 0, 0, 0])
        let freq = Float(exp(-log(10000.0) * 1 / 4))
        XCTAssertEqual(e[flat: 8 + 1], cos(500 * freq), accuracy: 1e-5)
        XCTAssertEqual(e[flat: 8 + 4 + 1], sin(500 * freq), accuracy: 1e-5)
    }

    func testNearestResizeUsesTorchIndexRule() {
        let x = Tensor(shape: [1, 3, 1, 1], scalars: [10, 20, 30])
        XCTAssertEqual(upsampleNearest(x, height: 7, width: 1).scalars, [10, 10, 10, 20, 20, 30, 30])
        XCTAssertEqual(upsampleNearest2x(x).scalars, [10, 10, 10, 10, 20, 20, 20, 20, 30, 30, 30, 30])
        XCTAssertEqual(averagePool2x(Tensor(shape: [1, 2, 2, 1], scalars: [1, 2, 3, 6])).scalars, [3])
    }

    func testLinearAndConcatenation() {
        let w = Tensor(shape: [2, 3], scalars: [1, 0, -1, 2, 1, 0])
        let y = Linear(weight: w, bias: Tensor(shape: [2], scalars: [0.5, -0.5]))(Tensor(shape: [1, 3], scalars: [1, 2, 3]))
        XCTAssertEqual(y.scalars, [-1.5, 3.5])
        let c = concatenateLastAxis([Tensor(shape: [2, 1], scalars: [1, 2]), Tensor(shape: [2, 2], scalars: [3, 4, 5, 6])])
        XCTAssertEqual(c.scalars, [1, 3, 4, 2, 5, 6])
        let nchw = Tensor(shape: [1, 2, 1, 2], scalars: [1, 2, 3, 4])
        XCTAssertEqual(nchw.nchwToNHWC().scalars, [1, 3, 2, 4])
        XCTAssertEqual(nchw.nchwToNHWC().nhwcToNCHW().scalars, nchw.scalars)
    }
}

final class FastExpTests: XCTestCase {
    func testAgreesWithExpfAcrossTheRange() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let ours = fastExp(x), reference = expf(x)
            worst = max(worst, abs(ours - reference) / reference)
            x += 0.0137
        }
        XCTAssertLessThan(worst, 5e-7, "relative error")
        XCTAssertEqual(fastExp(-Float.infinity), 0)
        XCTAssertEqual(fastExp(-87.5), 0)
        XCTAssertEqual(fastExp(-100), 0)
        XCTAssertEqual(fastExp(0), 1)
    }
}

final class FastErfTests: XCTestCase {
    func testAgreesWithErffAcrossTheRange() {
        var worst: Float = 0
        var x: Float = -12
        while x < 12 {
            worst = max(worst, abs(fastErf(x) - erff(x)))
            x += 0.00073
        }
        XCTAssertLessThan(worst, 5e-7, "absolute error")
        XCTAssertEqual(fastErf(0), 0)
        XCTAssertEqual(fastErf(20), 1)
        XCTAssertEqual(fastErf(-Float.infinity), -1)
        XCTAssertTrue(fastErf(.nan).isNaN)
    }

    /// GELU through fastErf against GELU through erff, in double: within 4e-7 of |x| (torch's
    /// float32 `1 + erf(x)` itself loses all relative precision for x below -4).
    func testGELUError() {
        var worst = 0.0
        var x: Float = -10
        while x < 10 {
            let exact = 0.5 * Double(x) * (1 + erf(Double(x) * 0.70710678118654752)), ours = Double(Activation.gelu.apply(x))
            worst = max(worst, abs(ours - exact) / max(1, abs(Double(x))))
            x += 0.00091
        }
        XCTAssertLessThan(worst, 4e-7)
    }
}
