import CKilnKernels
import Dispatch
import Foundation
import XCTest

/// Deterministic values in [-1, 1) (xorshift), the same on every run.
private struct Values {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E3779B97F4A7C15 | 1 }
    mutating func bits() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    mutating func next() -> Float { Float(Int64(bitPattern: bits() >> 11) % 2_000_000) / 1_000_000 - 1 }
    mutating func array(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
}

private func bf16(_ x: Float) -> Float { kiln_f32_from_bf16(kiln_bf16_from_f32(x)) }

/// A bf16 product through the C API: pack op(B), run `kernel`, return C.
private struct Product {
    let m: Int, n: Int, k: Int
    let a: [Float]          // m x k, lda = k
    let b: [Float]          // op(B) as k x n, row-major
    let packed: [UInt16]

    init(m: Int, n: Int, k: Int, seed: UInt64) {
        self.m = m; self.n = n; self.k = k
        var v = Values(seed: seed)
        a = v.array(m * k)
        b = v.array(k * n)
        var p = [UInt16](repeating: 0xFFFF, count: kiln_bf16_packed_size(Int64(k), Int64(n)))
        b.withUnsafeBufferPointer { kiln_bf16_pack_b($0.baseAddress, Int64(k), Int64(n), Int64(n), 0, &p) }
        packed = p
    }

    /// beta·C + Σ bf16(a)·bf16(b) in double, on the same bf16-rounded inputs, with the sum of
    /// |terms| (what the error of a float32 sum scales with).
    func reference(c0: [Float], beta: Float) -> (value: [Double], magnitude: [Double]) {
        let ar = a.map { Double(bf16($0)) }, br = b.map { Double(bf16($0)) }
        var value = [Double](repeating: 0, count: m * n), magnitude = value
        for i in 0..<m {
            for j in 0..<n {
                var s = beta == 0 ? 0 : Double(beta) * Double(c0[i * n + j]), t = abs(s)
                for r in 0..<k { let x = ar[i * k + r] * br[r * n + j]; s += x; t += abs(x) }
                value[i * n + j] = s; magnitude[i * n + j] = t
            }
        }
        return (value, magnitude)
    }

    func run(_ c0: [Float], beta: Float, portable: Bool) -> [Float] {
        var c = c0
        a.withUnsafeBufferPointer { a in
            packed.withUnsafeBufferPointer { p in
                c.withUnsafeMutableBufferPointer { c in
                    if portable {
                        kiln_bf16_gemm_portable(Int64(m), Int64(n), Int64(k), a.baseAddress, Int64(k), p.baseAddress,
                                                c.baseAddress, Int64(n), beta)
                    } else {
                        let ws = UnsafeMutableRawPointer.allocate(byteCount: kiln_bf16_gemm_workspace_size(), alignment: 64)
                        defer { ws.deallocate() }
                        kiln_bf16_gemm_avx512(Int64(m), Int64(n), Int64(k), a.baseAddress, Int64(k), p.baseAddress,
                                              c.baseAddress, Int64(n), beta, ws)
                    }
                }
            }
        }
        return c
    }
}

private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

/// Round to nearest even by comparing the two neighbouring bf16 values in double (an
/// independent statement of torch's rule).
private func referenceBF16(_ x: Float) -> UInt16 {
    if x.isNaN { return 0x7FC0 }
    let u = x.bitPattern
    let down = UInt16(u >> 16), up = down &+ 1
    if u & 0xFFFF == 0 { return down }
    let lo = Double(kiln_f32_from_bf16(down)), hiBits = UInt32(up) << 16
    // One past the largest finite bf16 is infinity; measure it as 2^128 for the comparison.
    let hi = (hiBits & 0x7FFF_FFFF) == 0x7F80_0000 ? (x < 0 ? -0x1p128 : 0x1p128) : Double(Float(bitPattern: hiBits))
    let dl = abs(Double(x) - lo), dh = abs(hi - Double(x))
    if dl < dh { return down }
    if dh < dl { return up }
    return down & 1 == 0 ? down : up
}

final class BF16ConversionTests: XCTestCase {
    func testRoundToNearestEvenEdgeCases() {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),  // 1
            (0x3F80_8000, 0x3F80),  // tie, even below
            (0x3F81_8000, 0x3F82),  // tie, odd below: up
            (0x3F80_8001, 0x3F81),  // just above the tie
            (0x3F80_7FFF, 0x3F80),  // just below the tie
            (0xBF81_8000, 0xBF82),  // negative tie
            (0x8000_0000, 0x8000),  // -0
            (0x0000_0001, 0x0000),  // smallest subnormal
            (0x0000_8000, 0x0000),  // subnormal tie, even
            (0x0001_8000, 0x0002),  // subnormal tie, odd
            (0x0040_0000, 0x0040),  // subnormal, exact
            (0x007F_FFFF, 0x0080),  // largest subnormal rounds to the smallest normal
            (0x7F7F_FFFF, 0x7F80),  // largest float overflows to infinity
            (0x7F7F_7FFF, 0x7F7F),  // ... but not below the tie
            (0x7F80_0000, 0x7F80),  // inf
            (0xFF80_0000, 0xFF80),  // -inf
            (0x7FC0_0000, 0x7FC0),  // NaN
            (0x7F80_0001, 0x7FC0),  // signalling NaN, low payload
            (0xFFC1_2345, 0x7FC0),  // negative NaN: torch's canonical NaN
        ]
        for (input, expected) in cases {
            XCTAssertEqual(kiln_bf16_from_f32(Float(bitPattern: input)), expected, String(input, radix: 16))
            XCTAssertEqual(referenceBF16(Float(bitPattern: input)), expected, "reference " + String(input, radix: 16))
        }
        var v = Values(seed: 7)
        for _ in 0..<200_000 {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: v.bits()))
            XCTAssertEqual(kiln_bf16_from_f32(x), referenceBF16(x), String(x.bitPattern, radix: 16))
        }
    }

    func testEveryHalfConvertsExactly() {
        for h in 0...UInt16.max {
            let f = kiln_f32_from_f16(h)
            #if arch(x86_64) || arch(arm64)
            let expected = Float(Float16(bitPattern: h))
            if expected.isNaN {
                XCTAssertTrue(f.isNaN)
                XCTAssertEqual(f.bitPattern & 0x8000_0000, UInt32(h & 0x8000) << 16)
            } else {
                XCTAssertEqual(f.bitPattern, expected.bitPattern, String(h, radix: 16))
            }
            #endif
            XCTAssertEqual(kiln_bf16_from_f16(h), kiln_bf16_from_f32(f))
        }
        XCTAssertEqual(kiln_f32_from_f16(0x7BFF), 65504)
        XCTAssertEqual(kiln_f32_from_f16(0x0001), 0x1p-24)
        XCTAssertEqual(kiln_f32_from_f16(0x8400), -0x1p-14)
        XCTAssertEqual(kiln_f32_from_f16(0xFC00), -.infinity)
        XCTAssertEqual(kiln_bf16_from_f16(0x3C01), 0x3F80)  // 1 + 2^-10 rounds to 1 in bf16
    }

    /// The layout of the header, element by element, from both orientations and all three source types.
    func testPackedLayoutAndSources() {
        for (k, n) in [(1, 1), (7, 77), (333, 7), (4, 64), (5, 129)] {
            var v = Values(seed: UInt64(k * 1000 + n))
            let b = v.array(k * n)                              // op(B), k x n
            var bt = [Float](repeating: 0, count: n * k)        // B stored n x k (transB)
            for r in 0..<k { for c in 0..<n { bt[c * k + r] = b[r * n + c] } }
            let size = kiln_bf16_packed_size(Int64(k), Int64(n))
            let panels = (n + 63) / 64, pairs = (k + 1) / 2
            XCTAssertEqual(size, panels * pairs * 128)
            var p0 = [UInt16](repeating: 0xFFFF, count: size), p1 = p0, p2 = p0, p3 = p0
            kiln_bf16_pack_b(b, Int64(k), Int64(n), Int64(n), 0, &p0)
            kiln_bf16_pack_b(bt, Int64(k), Int64(n), Int64(k), 1, &p1)
            XCTAssertEqual(p0, p1, "transB \(k)x\(n)")
            // From half and bf16 sources holding the same values.
            let half = b.map { Float16($0).bitPattern }
            let halfT = bt.map { Float16($0).bitPattern }
            kiln_bf16_pack_b_f16(half, Int64(k), Int64(n), Int64(n), 0, &p2)
            var p2t = p2
            kiln_bf16_pack_b_f16(halfT, Int64(k), Int64(n), Int64(k), 1, &p2t)
            XCTAssertEqual(p2, p2t)
            let viaFloat = half.map { Float(Float16(bitPattern: $0)) }
            var p2f = p2
            kiln_bf16_pack_b(viaFloat, Int64(k), Int64(n), Int64(n), 0, &p2f)
            XCTAssertEqual(p2, p2f, "half source \(k)x\(n)")
            let bfBits = b.map { kiln_bf16_from_f32($0) }
            kiln_bf16_pack_b_bf16(bfBits, Int64(k), Int64(n), Int64(n), 0, &p3)
            XCTAssertEqual(p3, p0, "bf16 source \(k)x\(n)")
            for j in 0..<(panels * 64) {
                for r in 0..<(pairs * 2) {
                    let index = ((j / 64 * pairs + r / 2) * 64 + j % 64) * 2 + r % 2
                    let expected: UInt16 = (j < n && r < k) ? kiln_bf16_from_f32(b[r * n + j]) : 0
                    if p0[index] != expected { XCTFail("(\(r), \(j)) of \(k)x\(n)"); return }
                }
            }
        }
    }
}

final class BF16GEMMTests: XCTestCase {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (7, 7, 7), (77, 77, 77), (333, 333, 333), (1, 333, 77), (333, 7, 1), (7, 77, 333),
        // Several blocks of k (at most 640 a block; odd last block), of rows (60) and of columns (1024).
        (13, 130, 1333), (200, 65, 513), (129, 64, 2), (61, 1100, 700),
    ]

    func requireAVX512BF16() throws {
        try XCTSkipUnless(kiln_cpu_has_avx512_bf16() != 0, "this CPU lacks AVX512-BF16 (the portable kernel is tested)")
    }

    /// Error against the double reference, relative to the sum of |terms| and to max |C|.
    func check(portable: Bool, file: StaticString = #filePath, line: UInt = #line) {
        var worstAbs = 0.0, worstNormwise = 0.0, worstTermwise = 0.0, worstRelative = 0.0
        for (s, shape) in Self.shapes.enumerated() {
            let product = Product(m: shape.m, n: shape.n, k: shape.k, seed: UInt64(s + 1))
            var v = Values(seed: UInt64(100 + s))
            for beta: Float in [0, 1, 0.5] {
                var c0 = v.array(shape.m * shape.n)
                if beta == 0 { c0 = c0.map { _ in .nan } }   // beta 0 must not read C
                let c = product.run(c0, beta: beta, portable: portable)
                let (ref, magnitude) = product.reference(c0: c0, beta: beta)
                let scale = ref.map(abs).max() ?? 1
                for i in 0..<c.count {
                    let e = abs(Double(c[i]) - ref[i])
                    worstAbs = max(worstAbs, e)
                    worstNormwise = max(worstNormwise, e / scale)
                    worstTermwise = max(worstTermwise, e / max(magnitude[i], .leastNormalMagnitude))
                    // Elementwise, where C is not a near-cancellation (|C| >= 1% of max |C|).
                    if abs(ref[i]) >= 0.01 * scale { worstRelative = max(worstRelative, e / abs(ref[i])) }
                }
                XCTAssertFalse(c.contains { $0.isNaN }, "\(shape) beta \(beta)", file: file, line: line)
            }
        }
        print("bf16 GEMM \(portable ? "portable" : "AVX-512") vs double: max abs \(worstAbs), max |err|/max|C| \(worstNormwise), max |err|/Σ|terms| \(worstTermwise), max |err|/|C| where |C| >= 1% of max \(worstRelative)")
        XCTAssertLessThan(worstNormwise, 1e-5, file: file, line: line)
        XCTAssertLessThan(worstTermwise, 2e-6, file: file, line: line)
        XCTAssertLessThan(worstRelative, 1e-4, file: file, line: line)
    }

    func testPortableKernelAgainstDoubleReference() { check(portable: true) }

    func testAVX512KernelAgainstDoubleReference() throws {
        try requireAVX512BF16()
        check(portable: false)
    }

    /// The portable kernel emulates vdpbf16ps bit for bit (on normal-range values).
    func testAVX512AndPortableKernelsGiveTheSameBits() throws {
        try requireAVX512BF16()
        for (s, shape) in (Self.shapes + [(300, 200, 2000)]).enumerated() {
            let product = Product(m: shape.m, n: shape.n, k: shape.k, seed: UInt64(s + 50))
            var v = Values(seed: UInt64(s))
            for beta: Float in [0, 1] {
                let c0 = v.array(shape.m * shape.n)
                XCTAssertEqual(bits(product.run(c0, beta: beta, portable: true)), bits(product.run(c0, beta: beta, portable: false)),
                               "\(shape) beta \(beta)")
            }
        }
    }

    /// The dispatching entry points (stack and caller workspace) agree with the kernel they pick.
    func testDispatchingEntryPoints() {
        let product = Product(m: 150, n: 100, k: 300, seed: 9)
        var v = Values(seed: 10)
        let c0 = v.array(150 * 100)
        let expected = bits(product.run(c0, beta: 1, portable: true))
        var c1 = c0, c2 = c0
        kiln_bf16_gemm(150, 100, 300, product.a, 300, product.packed, &c1, 100, 1)
        let ws = UnsafeMutableRawPointer.allocate(byteCount: kiln_bf16_gemm_workspace_size(), alignment: 64)
        defer { ws.deallocate() }
        kiln_bf16_gemm_ws(150, 100, 300, product.a, 300, product.packed, &c2, 100, 1, ws)
        XCTAssertEqual(bits(c1), expected)
        XCTAssertEqual(bits(c2), expected)
        XCTAssertEqual(kiln_bf16_gemm_workspace_size(), 60 * 640 * 2)
    }

    /// A's rounding inside the kernel: C = A · [1, 1]ᵀ with each row [v, 0] or [0, v] is bf16(v)
    /// (ties, overflow, inf, NaN); float32 denormals become zero, even 0x007FFFFF, which torch's
    /// rounding would carry up to the smallest normal bf16.
    func testARoundingInsideTheKernel() throws {
        let values: [UInt32] = [0x3F80_8000, 0x3F81_8000, 0x3F80_8001, 0xBF81_8000, 0x7F7F_FFFF, 0x7F80_0000, 0xFF80_0000,
                                0x7FC0_0001, 0x0040_0000, 0x007F_FFFF, 0x3F80_7FFF, 0x4049_0FDB, 0x0000_0000, 0xC2F6_E979,
                                0x0080_0000, 0x0080_8000]
        let m = 2 * values.count
        var a = [Float](repeating: 0, count: m * 2)
        for (i, v) in values.enumerated() {
            a[i * 2] = Float(bitPattern: v)                          // low half of the pair
            a[(values.count + i) * 2 + 1] = Float(bitPattern: v)     // high half
        }
        var packed = [UInt16](repeating: 0, count: kiln_bf16_packed_size(2, 1))
        kiln_bf16_pack_b([1, 1], 2, 1, 1, 0, &packed)
        var kernels: [(String, (inout [Float]) -> Void)] = [
            ("portable", { c in kiln_bf16_gemm_portable(Int64(m), 1, 2, a, 2, packed, &c, 1, 0) }),
        ]
        if kiln_cpu_has_avx512_bf16() != 0 {
            kernels.append(("AVX-512", { c in
                let ws = UnsafeMutableRawPointer.allocate(byteCount: kiln_bf16_gemm_workspace_size(), alignment: 64)
                defer { ws.deallocate() }
                kiln_bf16_gemm_avx512(Int64(m), 1, 2, a, 2, packed, &c, 1, 0, ws)
            }))
        }
        for (name, kernel) in kernels {
            var c = [Float](repeating: 0, count: m)
            kernel(&c)
            for i in 0..<m {
                let x = Float(bitPattern: values[i % values.count])
                let label = "\(name) \(String(values[i % values.count], radix: 16)) \(i < values.count ? "low" : "high")"
                if x.isNaN { XCTAssertTrue(c[i].isNaN, label); continue }
                let expected: Float = x.isSubnormal ? 0 : bf16(x)
                XCTAssertEqual(c[i].bitPattern, expected.bitPattern, label)
            }
        }
        XCTAssertEqual(bf16(Float(bitPattern: 0x3F80_8000)), 1)
        XCTAssertEqual(bf16(Float(bitPattern: 0x3F81_8000)).bitPattern, 0x3F82_0000)
        XCTAssertEqual(bf16(Float(bitPattern: 0x7F7F_FFFF)), .infinity)
    }

    func testZeroKScalesC() {
        var c: [Float] = [1, 2, 3, .nan]
        kiln_bf16_gemm(2, 2, 0, [], 1, [], &c, 2, 0.5)
        XCTAssertEqual(Array(c[0..<3]), [0.5, 1, 1.5])
        c = [.nan, 1]
        kiln_bf16_gemm(1, 2, 0, [], 1, [], &c, 2, 0)
        XCTAssertEqual(c, [0, 0])
    }

    /// The same product cut into different row and column tiles, run in different orders and
    /// on several threads, gives the same bits as one call.
    func testTilingAndThreadsDoNotChangeTheBits() throws {
        let m = 333, n = 320, k = 777
        let product = Product(m: m, n: n, k: k, seed: 77)
        var v = Values(seed: 78)
        let c0 = v.array(m * n)
        var kernels: [Bool] = [true]
        if kiln_cpu_has_avx512_bf16() != 0 { kernels.append(false) }
        let pairs = (k + 1) / 2
        for portable in kernels {
            let whole = bits(product.run(c0, beta: 1, portable: portable))
            // Row tiles of 1, 5, 100 and 333; column tiles of 64, 128 and the whole width.
            for (rowsPerTile, columnsPerTile) in [(1, 320), (5, 64), (100, 128), (333, 64), (7, 192)] {
                var tiles: [(row: Int, rows: Int, column: Int, columns: Int)] = []
                for r in stride(from: 0, to: m, by: rowsPerTile) {
                    for c in stride(from: 0, to: n, by: columnsPerTile) {
                        tiles.append((r, min(rowsPerTile, m - r), c, min(columnsPerTile, n - c)))
                    }
                }
                var c = c0
                let threads = 2
                c.withUnsafeMutableBufferPointer { cBuffer in
                    let cBase = cBuffer.baseAddress!
                    product.a.withUnsafeBufferPointer { aBuffer in
                        product.packed.withUnsafeBufferPointer { pBuffer in
                            // Tiles in reverse order on `threads` threads, each thread its own share.
                            DispatchQueue.concurrentPerform(iterations: threads) { t in
                                let ws = UnsafeMutableRawPointer.allocate(byteCount: kiln_bf16_gemm_workspace_size(), alignment: 64)
                                defer { ws.deallocate() }
                                for tile in tiles.reversed().enumerated() where tile.offset % threads == t {
                                    let e = tile.element
                                    let a = aBuffer.baseAddress! + e.row * k
                                    let p = pBuffer.baseAddress! + e.column / 64 * pairs * 128
                                    let cc = cBase + e.row * n + e.column
                                    if portable {
                                        kiln_bf16_gemm_portable(Int64(e.rows), Int64(e.columns), Int64(k), a, Int64(k), p, cc, Int64(n), 1)
                                    } else {
                                        kiln_bf16_gemm_avx512(Int64(e.rows), Int64(e.columns), Int64(k), a, Int64(k), p, cc, Int64(n), 1, ws)
                                    }
                                }
                            }
                        }
                    }
                }
                XCTAssertEqual(bits(c), whole, "\(portable ? "portable" : "AVX-512") tiles \(rowsPerTile)x\(columnsPerTile)")
            }
        }
    }
}
