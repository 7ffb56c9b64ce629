import Foundation
@testable import Numerics
import XCTest

/// The bf16 GEMM as Numerics runs it: tiles of C over threads, weights packed from torch's
/// `[out, in]` layout.
final class BF16GEMMTests: XCTestCase {
    /// Reference on the bf16-rounded operands, in double.
    func reference(_ x: Tensor, _ w: Tensor) -> [Double] {
        func bf16(_ v: Float) -> Double {
            let bits = v.bitPattern
            let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
            return Double(Float(bitPattern: rounded))
        }
        let (m, k, n) = (x.shape[0], x.shape[1], w.shape[0])
        let a = x.scalars.map(bf16), b = w.scalars.map(bf16)
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { var s = 0.0; for p in 0..<k { s += a[i * k + p] * b[j * k + p] }; out[i * n + j] = s } }
        return out
    }

    func product(_ x: Tensor, _ packed: BF16Matrix, workers: Int) -> Tensor {
        let out = Tensor(uninitialized: [x.shape[0], packed.n])
        bf16GEMM(m: x.shape[0], n: packed.n, a: x.unsafePointer, lda: x.shape[1], b: packed, c: out.unsafePointer,
                 ldc: packed.n, beta: 0, workers: workers)
        return out
    }

    func testMatchesTheRoundedReferenceAtOddSizes() {
        for (m, k, n) in [(1, 7, 5), (77, 333, 130), (300, 64, 200)] {
            let x = randomTensor([m, k], seed: UInt64(m + k)), w = randomTensor([n, k], seed: UInt64(n * 3 + k))
            let y = product(x, BF16Matrix(linearWeight: w), workers: 2)
            XCTAssertLessThan(maxRelativeError(y.scalars, reference(x, w)), 1e-5, "\(m)x\(k)x\(n)")
        }
    }

    func testBitIdenticalOnOneTwoAndThreeThreads() {
        // Large enough for several row and column tiles.
        let x = randomTensor([1100, 320], seed: 1), w = randomTensor([700, 320], seed: 2)
        let packed = BF16Matrix(linearWeight: w)
        let one = product(x, packed, workers: 1)
        XCTAssertTrue(product(x, packed, workers: 2).scalars == one.scalars)
        XCTAssertTrue(product(x, packed, workers: 3).scalars == one.scalars)
    }

    func testErrorAgainstFloat32IsBFloat16Rounding() {
        let x = randomTensor([64, 512], seed: 3), w = randomTensor([96, 512], seed: 4)
        let y = product(x, BF16Matrix(linearWeight: w), workers: 2)
        let f32 = Linear(weight: w, bias: nil)(x)
        let error = maxRelativeError(y.scalars, f32.scalars.map(Double.init))
        XCTAssertGreaterThan(error, 1e-5, "rounded to bf16, not float32")
        XCTAssertLessThan(error, 2e-2, "within bf16's 8-bit mantissa")
    }
}
