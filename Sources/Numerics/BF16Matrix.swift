import CKilnKernels

/// A weight matrix packed once into bfloat16 for `bf16GEMM`: op(B) of k x n in the panels of 64
/// columns `kiln_bf16_pack_b` writes. Half the memory of float32; rounding as torch's
/// `.to(torch.bfloat16)` (round to nearest even).
///
/// The building block of the bfloat16 path (`--precision bf16`): the GEMM runs on AVX512-BF16
/// (vdpbf16ps) where the CPU has it, else on a portable kernel of the same bits.
///
/// `@unchecked Sendable`: the packed values are written in `init` only and read afterwards, by
/// any number of threads at once.
public final class BF16Matrix: @unchecked Sendable {
    public let k: Int
    public let n: Int
    let packed: UnsafeMutablePointer<UInt16>
    let count: Int

    /// Columns per panel.
    static let panel = Int(KILN_BF16_PANEL)
    /// Values per panel: `ceil(k/2) * 128`.
    var panelStride: Int { BF16Matrix.panelStride(k: k) }
    static func panelStride(k: Int) -> Int { (k + 1) / 2 * 2 * panel }
    /// Values of a packed k x n matrix.
    static func packedCount(k: Int, n: Int) -> Int { max(1, Int(kiln_bf16_packed_size(Int64(k), Int64(n)))) }

    private init(k: Int, n: Int) {
        self.k = k; self.n = n
        count = BF16Matrix.packedCount(k: k, n: n)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * 2, alignment: 64)
        if count * 2 >= TensorStorage.hugePageThreshold * 4 { TensorStorage.adviseHugePages(raw, byteCount: count * 2) }
        packed = raw.bindMemory(to: UInt16.self, capacity: count)
    }

    deinit { UnsafeMutableRawPointer(packed).deallocate() }

    /// Packs a torch `nn.Linear` weight `[out, in]` (op(B) = weightᵀ, k = in, n = out).
    public convenience init(linearWeight weight: Tensor) {
        precondition(weight.rank == 2)
        self.init(linearWeight: UnsafePointer(weight.unsafePointer), out: weight.shape[0], in: weight.shape[1])
    }

    /// Packs a row-major `[out, in]` float32 weight at `weight`.
    public convenience init(linearWeight weight: UnsafePointer<Float>, out n: Int, in k: Int) {
        self.init(k: k, n: n)
        BF16Matrix.pack(.float32(weight), k: k, n: n, ldb: k, transposed: true, into: packed)
    }

    /// One panel of `kiln_bf16_pack_b`'s bytes for a transposed float32 B (`columns` rows of k
    /// values, `ldb` apart), in vectors: a row's consecutive k are already the pairs the panel
    /// holds, so 16 pairs are read as 64-bit words, rounded, and written one column entry each.
    static func packTransposedPanel(_ b: UnsafePointer<Float>, k: Int, columns: Int, ldb: Int, into dst: UnsafeMutablePointer<UInt16>) {
        let pairs = (k + 1) / 2
        if columns < panel { dst.update(repeating: 0, count: panelStride(k: k)) }
        let words = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt32.self)
        for c in 0..<columns {
            let row = b + c * ldb
            var q = 0
            while q + 16 <= k / 2 {
                let x = UnsafeRawPointer(row + 2 * q).loadUnaligned(as: SIMD16<UInt64>.self)
                let low = bfloat16Bits(SIMD16<UInt32>(truncatingIfNeeded: x))
                let high = bfloat16Bits(SIMD16<UInt32>(truncatingIfNeeded: x &>> 32))
                let pair = low | (high &<< 16)
                for j in 0..<16 { words[(q + j) * panel + c] = pair[j] }
                q += 16
            }
            while q < pairs {
                let low = UInt32(bfloat16(row[2 * q]))
                let high = 2 * q + 1 < k ? UInt32(bfloat16(row[2 * q + 1])) : 0
                words[q * panel + c] = low | (high << 16)
                q += 1
            }
        }
    }

    /// Packs row-major bfloat16 values `b[k][n]` (`ldb` apart), bit for bit.
    convenience init(bf16Rows b: UnsafePointer<UInt16>, k: Int, n: Int, ldb: Int) {
        self.init(k: k, n: n)
        BF16Matrix.pack(.bfloat16(b), k: k, n: n, ldb: ldb, transposed: false, into: packed)
    }

    /// Where packed values come from.
    enum Source {
        case float32(UnsafePointer<Float>)
        case bfloat16(UnsafePointer<UInt16>)
    }

    /// Packs op(B) (k x n) into `dst` (`packedCount(k:n:)` values), `kiln_bf16_pack_b`'s bytes
    /// (transposed float32 through `packTransposedPanel`), panels in parallel: each panel's bytes
    /// depend on its columns alone. `transposed`: B is n x k (op(B)(r, c) at
    /// `c * ldb + r`), else k x n (at `r * ldb + c`).
    static func pack(_ source: Source, k: Int, n: Int, ldb: Int, transposed: Bool, into dst: UnsafeMutablePointer<UInt16>,
                     threaded: Bool = true) {
        let panels = (n + panel - 1) / panel, stride = panelStride(k: k)
        func one(_ p: Int) {
            let c0 = p * panel, width = min(panel, n - c0)
            let offset = transposed ? c0 * ldb : c0
            switch source {
            case .float32(let b) where transposed:
                packTransposedPanel(b + offset, k: k, columns: width, ldb: ldb, into: dst + p * stride)
            case .float32(let b):
                kiln_bf16_pack_b(b + offset, Int64(k), Int64(width), Int64(ldb), 0, dst + p * stride)
            case .bfloat16(let b):
                kiln_bf16_pack_b_bf16(b + offset, Int64(k), Int64(width), Int64(ldb), transposed ? 1 : 0, dst + p * stride)
            }
        }
        if threaded {
            parallelFor(panels, grain: 1) { range in for p in range { one(p) } }
        } else {
            for p in 0..<panels { one(p) }
        }
    }

    /// Whether this CPU runs the AVX512-BF16 kernel (else the portable one, slower, same bits).
    public static let hasHardwareSupport: Bool = kiln_cpu_has_avx512_bf16() != 0
}

/// Owned bfloat16 values (a convolution's weights in bf16, `[taps, in, out]`).
/// `@unchecked Sendable`: filled once before it is stored (`Conv2D.init`), read-only afterwards.
final class BF16Buffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt16>
    let count: Int

    /// `count` values, uninitialised.
    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
        if count * 2 >= TensorStorage.hugePageThreshold * 4 { TensorStorage.adviseHugePages(raw, byteCount: count * 2) }
        pointer = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// bfloat16 bits of `x` as `kiln_bf16_from_f32` rounds it, inlinable.
@inline(__always)
func bfloat16(_ x: Float) -> UInt16 {
    let u = x.bitPattern
    if u & 0x7FFF_FFFF > 0x7F80_0000 { return 0x7FC0 }
    return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
}

/// bfloat16 bits of 16 float32 bit patterns as `kiln_bf16_from_f32` rounds them (to nearest
/// even, NaN to 0x7FC0), in the low halves; plain integer arithmetic, which vectorises (SIMD
/// masks were compiled to a loop over the lanes).
@inline(__always)
func bfloat16Bits(_ u: SIMD16<UInt32>) -> SIMD16<UInt32> {
    let rounded = (u &+ 0x7FFF &+ ((u &>> 16) & 1)) &>> 16
    // All ones where u is a NaN: its magnitude past 0x7F800000 makes the difference wrap.
    let nan = SIMD16<UInt32>(repeating: 0) &- ((SIMD16<UInt32>(repeating: 0x7F80_0000) &- (u & 0x7FFF_FFFF)) &>> 31)
    return (rounded & ~nan) | (nan & 0x7FC0)
}

/// `C[m, n] = A[m, k] · B + beta · C` with A in float32 (rounded to bfloat16 inside the kernel),
/// B packed bfloat16 and float32 accumulation. Cut into fixed tiles of C (rows from
/// `GEMMTiling`, columns in whole 64-column panels), one single-threaded kernel call each: every
/// element of C is summed in one fixed order over k, so results are bit-identical whatever the
/// thread count and whatever the tiling.
public func bf16GEMM(m: Int, n: Int, a: UnsafePointer<Float>, lda: Int, b: BF16Matrix,
                     c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0) {
    bf16GEMM(m: m, n: n, a: a, lda: lda, b: b, c: c, ldc: ldc, beta: beta, workers: parallelWorkerCount)
}

/// `bf16GEMM` on `workers` threads (tests pass their own count).
func bf16GEMM(m: Int, n: Int, a: UnsafePointer<Float>, lda: Int, b: BF16Matrix,
              c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, workers: Int) {
    precondition(n <= b.n)
    batchedBF16GEMM(count: 1, m: m, n: n, k: b.k, a: a, lda: lda, strideA: 0, b: UnsafePointer(b.packed), strideB: 0,
                    c: c, ldc: ldc, strideC: 0, beta: beta, workers: workers)
}

/// `count` products `C[i] = A[i] · B[i] + beta · C[i]` of one shape, B[i] packed bf16 (k x n,
/// `strideB` values apart), A[i] and C[i] `strideA`/`strideC` floats apart. Run as fixed tiles
/// (GEMMTiling rows x whole panels) on `workers` threads; bits as `bf16GEMM`.
func batchedBF16GEMM(count: Int, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, strideA: Int,
                     b: UnsafePointer<UInt16>, strideB: Int, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int,
                     beta: Float = 0, workers: Int = parallelWorkerCount) {
    if count == 0 || m == 0 || n == 0 { return }
    if FLOPCounter.enabled { FLOPCounter.add(2 * Double(count) * Double(m) * Double(n) * Double(k)) }
    let tiling = GEMMTiling(m: m, n: n, k: k)
    let panel = BF16Matrix.panel, panelStride = BF16Matrix.panelStride(k: k)
    let columns = max(panel, (tiling.columns + panel - 1) / panel * panel)
    let columnBlocks = (n + columns - 1) / columns
    let perProduct = tiling.rowBlocks * columnBlocks
    runTasks(count * perProduct, workers: workers) { task in
        let i = task / perProduct, t = task % perProduct
        let r0 = (t / columnBlocks) * tiling.rows, c0 = (t % columnBlocks) * columns
        let rows = min(tiling.rows, m - r0), width = min(columns, n - c0)
        kiln_bf16_gemm(Int64(rows), Int64(width), Int64(k), a + i * strideA + r0 * lda, Int64(lda),
                       b + i * strideB + (c0 / panel) * panelStride, c + i * strideC + r0 * ldc + c0, Int64(ldc), beta)
    }
}
