import Foundation
import CKilnKernels
@testable import Numerics
import XCTest

/// The layers in bf16 (`precision: .bf16`) against float64 references: every convolution path
/// (Winograd, Winograd after a nearest 2x upsampling, patches for strided and narrow kernels,
/// 1x1), linear layers and attention. Each must be off by bfloat16 rounding (more than float32
/// would be, less than a few bf16 ulps of the output's scale).
final class BF16LayerTests: XCTestCase {
    /// bf16 keeps 8 significant bits: a relative step of 2^-8 per operand.
    let bound = 1.5e-2

    func checkConv(n: Int, h: Int, w: Int, ci: Int, co: Int, kernel: Int, stride: Int, pad: (Int, Int, Int, Int),
                   file: StaticString = #filePath, line: UInt = #line) {
        let x = randomTensor([n, h, w, ci], seed: UInt64(h * 17 + ci))
        let weight = randomTensor([co, ci, kernel, kernel], seed: UInt64(co * 5 + kernel))
        let bias = randomTensor([co], seed: 9)
        let conv = Conv2D(torchWeight: weight, bias: bias, stride: stride, padding: pad, precision: .bf16)
        XCTAssertEqual(conv.precision, .bf16)
        let out = conv(x)
        let error = maxRelativeError(out.scalars, referenceConv(x, weight: weight, bias: bias, stride: stride, pad: pad))
        XCTAssertGreaterThan(error, 1e-5, "rounded to bf16", file: file, line: line)
        XCTAssertLessThan(error, bound, "\(kernel)x\(kernel)/\(stride) \(ci)->\(co)", file: file, line: line)
    }

    func testConvolutionsOnEveryPath() {
        checkConv(n: 2, h: 13, w: 11, ci: 32, co: 48, kernel: 3, stride: 1, pad: (1, 1, 1, 1))   // Winograd
        checkConv(n: 1, h: 9, w: 14, ci: 24, co: 40, kernel: 3, stride: 1, pad: (1, 1, 1, 1))    // patches (not 16-wide)
        checkConv(n: 1, h: 15, w: 12, ci: 32, co: 32, kernel: 3, stride: 2, pad: (0, 1, 0, 1))   // strided
        checkConv(n: 2, h: 7, w: 5, ci: 48, co: 80, kernel: 1, stride: 1, pad: (0, 0, 0, 0))     // 1x1
        checkConv(n: 1, h: 6, w: 10, ci: 4, co: 32, kernel: 3, stride: 1, pad: (1, 1, 1, 1))     // conv_in
    }

    func testWinogradAfterUpsamplingEqualsUpsamplingFirst() {
        let x = randomTensor([1, 7, 9, 32], seed: 3)
        let conv = Conv2D(torchWeight: randomTensor([16, 32, 3, 3], seed: 4), bias: randomTensor([16], seed: 5),
                          padding: 1, precision: .bf16)
        XCTAssertEqual(conv.afterNearest2x(x).scalars, conv(upsampleNearest2x(x)).scalars)
    }

    func testLinearMatchesTheReference() {
        let x = randomTensor([2, 37, 96], seed: 6), w = randomTensor([130, 96], seed: 7), b = randomTensor([130], seed: 8)
        let layer = Linear(weight: w, bias: b, precision: .bf16)
        XCTAssertEqual(layer.precision, .bf16)
        let y = layer(x)
        XCTAssertEqual(y.shape, [2, 37, 130])
        let (xs, ws, bs) = (x.scalars, w.scalars, b.scalars)
        var expected = [Double](repeating: 0, count: 74 * 130)
        for r in 0..<74 { for o in 0..<130 {
            var s = Double(bs[o])
            for i in 0..<96 { s += Double(xs[r * 96 + i]) * Double(ws[o * 96 + i]) }
            expected[r * 130 + o] = s
        } }
        let error = maxRelativeError(y.scalars, expected)
        XCTAssertGreaterThan(error, 1e-5)
        XCTAssertLessThan(error, bound)
    }

    func testAttentionMatchesFloat32() {
        for causal in [false, true] {
            let q = randomTensor([2, 70, 128], seed: 10), k = randomTensor([2, 90, 128], seed: 11), v = randomTensor([2, 90, 128], seed: 12)
            let keys = causal ? q : k, values = causal ? randomTensor([2, 70, 128], seed: 13) : v
            let f32 = multiHeadAttention(q: q, k: keys, v: values, heads: 2, causal: causal)
            let bf16 = multiHeadAttention(q: q, k: keys, v: values, heads: 2, causal: causal, precision: .bf16)
            let error = maxRelativeError(bf16.scalars, f32.scalars.map(Double.init))
            XCTAssertGreaterThan(error, 1e-5, "causal \(causal)")
            XCTAssertLessThan(error, 2 * bound, "causal \(causal)")
        }
    }
}

/// The fused bf16 attention (`kiln_bf16_attention`: keys a chunk of 512 at a time, online
/// softmax) against float32 and against the score-block bf16 path it replaces: several chunks with
/// a short last one, an odd key count, heads wider than one 64-column panel, query counts that are
/// not multiples of the kernel's blocks, and sharp softmaxes whose maximum moves between chunks.
final class FusedAttentionTests: XCTestCase {
    func testFusedAttentionMatchesFloat32AsTheScoreBlockPathDoes() throws {
        try XCTSkipUnless(kiln_cpu_has_avx512_bf16() != 0, "the fused kernel needs AVX512-BF16")
        for (nq, nk, heads, d, sharpness) in [(101, 1100, 3, 64, 1.0), (101, 1100, 2, 80, 6.0), (7, 77, 2, 64, 6.0), (200, 513, 1, 128, 3.0)] {
            let label = "\(nq) queries, \(nk) keys, \(heads)x\(d), sharpness \(sharpness)"
            let q = Tensor(shape: [2, nq, heads * d], scalars: randomTensor([2, nq, heads * d], seed: UInt64(nq)).scalars.map { $0 * Float(sharpness) })
            let k = randomTensor([2, nk, heads * d], seed: UInt64(nk)), v = randomTensor([2, nk, heads * d], seed: UInt64(nk + 1))
            let f32 = multiHeadAttention(q: q, k: k, v: v, heads: heads).scalars.map(Double.init)
            let fused = multiHeadAttention(q: q, k: k, v: v, heads: heads, precision: .bf16)
            let blocks = multiHeadAttention(q: q, k: k, v: v, heads: heads, causal: false, keyMask: nil, precision: .bf16, fused: false)
            XCTAssertNotEqual(fused.scalars, blocks.scalars, "\(label): the fused kernel ran")
            let fusedError = maxRelativeError(fused.scalars, f32), blockError = maxRelativeError(blocks.scalars, f32)
            XCTAssertGreaterThan(fusedError, 1e-5, label)
            XCTAssertLessThan(fusedError, 1.5 * blockError + 1e-3, label)
            XCTAssertEqual(multiHeadAttention(q: q, k: k, v: v, heads: heads, precision: .bf16).scalars, fused.scalars, "\(label): repeatable")
        }
    }

    /// Each query's output depends on its own row only: the first rows alone give the same bits.
    func testFusedAttentionRowsDoNotDependOnTheBlocking() throws {
        try XCTSkipUnless(kiln_cpu_has_avx512_bf16() != 0, "the fused kernel needs AVX512-BF16")
        let (nq, part, nk, width) = (150, 53, 600, 128)
        let q = randomTensor([1, nq, width], seed: 31), k = randomTensor([1, nk, width], seed: 32), v = randomTensor([1, nk, width], seed: 33)
        let whole = multiHeadAttention(q: q, k: k, v: v, heads: 2, precision: .bf16)
        let first = multiHeadAttention(q: Tensor(shape: [1, part, width], scalars: Array(q.scalars[0..<(part * width)])),
                                       k: k, v: v, heads: 2, precision: .bf16)
        XCTAssertEqual(first.scalars, Array(whole.scalars[0..<(part * width)]))
    }
}

/// F(2x2, 3x3)'s weight transform written straight into bf16 panels gives the bytes of the
/// float32 transform packed by `kiln_bf16_pack_b`, including the zeros of a partial panel.
final class WinogradPackingTests: XCTestCase {
    func testFusedPackingEqualsTransformThenPack() {
        let (ci, co) = (48, 80)
        let conv = Conv2D(torchWeight: randomTensor([co, ci, 3, 3], seed: 21), bias: nil, padding: 1, precision: .bf16)
        for (o0, width) in [(0, 80), (16, 48), (0, 64)] {
            let stride = BF16Matrix.packedCount(k: ci, n: width)
            var fused = [UInt16](repeating: 0xFFFF, count: 16 * stride), separate = [UInt16](repeating: 0, count: 16 * stride)
            fused.withUnsafeMutableBufferPointer {
                Winograd.transformWeights23Packed(conv.winogradWeights, ci: ci, co: co, from: o0, width: width, into: $0.baseAddress!, stride: stride)
            }
            var u = [Float](repeating: 0, count: 16 * ci * width)
            u.withUnsafeMutableBufferPointer { Winograd.transformWeights23(conv.winogradWeights, ci: ci, co: co, from: o0, width: width, into: $0.baseAddress!) }
            for q in 0..<16 {
                u.withUnsafeBufferPointer { src in
                    separate.withUnsafeMutableBufferPointer { dst in
                        BF16Matrix.pack(.float32(src.baseAddress! + q * ci * width), k: ci, n: width, ldb: width, transposed: false,
                                        into: dst.baseAddress! + q * stride)
                    }
                }
            }
            XCTAssertEqual(fused, separate, "columns \(o0)..<\(o0 + width)")
        }
    }
}

final class BF16RoundingTests: XCTestCase {
    /// Transposed float32 weights packed in Swift vectors give `kiln_bf16_pack_b`'s bytes: odd k,
    /// a partial last panel, rows wider than k.
    func testTransposedPackingEqualsTheCPacking() {
        for (n, k, ldb) in [(130, 333, 333), (64, 32, 40), (7, 1, 1)] {
            let w = randomTensor([n, ldb], seed: UInt64(n + k))
            let count = BF16Matrix.packedCount(k: k, n: n)
            var swift = [UInt16](repeating: 0xFFFF, count: count), c = [UInt16](repeating: 0, count: count)
            swift.withUnsafeMutableBufferPointer {
                BF16Matrix.pack(.float32(UnsafePointer(w.unsafePointer)), k: k, n: n, ldb: ldb, transposed: true, into: $0.baseAddress!)
            }
            c.withUnsafeMutableBufferPointer { kiln_bf16_pack_b(w.unsafePointer, Int64(k), Int64(n), Int64(ldb), 1, $0.baseAddress!) }
            XCTAssertEqual(swift, c, "n \(n), k \(k)")
        }
    }

    /// The vector rounding gives `kiln_bf16_from_f32`'s bits, NaNs and ties included.
    func testVectorRoundingMatchesTheScalarOne() {
        let patterns: [UInt32] = [0, 0x8000_0000, 0x3F80_0000, 0x3F80_8000, 0x3F81_8000, 0x3F80_7FFF, 0x7F7F_FFFF, 0x7F80_0000,
                                  0x7F80_0001, 0x7FC0_0000, 0xFFFF_FFFF, 0x0000_0001, 0x807F_FFFF, 0x3400_8000, 0xC2F7_8000, 0x7FBF_FFFF]
        var values = SIMD16<Float>()
        for (i, p) in patterns.enumerated() { values[i] = Float(bitPattern: p) }
        let bits = Winograd.bf16Bits(values)
        for i in 0..<16 { XCTAssertEqual(UInt16(bits[i]), kiln_bf16_from_f32(values[i]), String(patterns[i], radix: 16)) }
    }
}
