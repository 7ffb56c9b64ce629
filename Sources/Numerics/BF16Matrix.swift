import CKilnKernels

/// A weight matrix packed once into bfloat16 for `bf16GEMM`: op(B) of k x n in the panels of 64
/// columns `kiln_bf16_pack_b` writes. Half the memory of float32; rounding as torch's
/// `.to(torch.bfloat16)` (round to nearest even).
///
/// The building block of the bfloat16 path (`--precision bf16`, issue 8): the GEMM runs on
/// AVX512-BF16 (vdpbf16ps) where the CPU has it, else on a portable kernel of the same bits.
public final class BF16Matrix: @unchecked Sendable {
    public let k: Int
    public let n: Int
    let packed: UnsafeMutablePointer<UInt16>
    let count: Int

    /// Panels of 64 columns, each `ceil(k/2) * 128` values.
    static let panel = Int(KILN_BF16_PANEL)
    var panelStride: Int { (k + 1) / 2 * 2 * BF16Matrix.panel }

    private init(k: Int, n: Int) {
        self.k = k; self.n = n
        count = max(1, Int(kiln_bf16_packed_size(Int64(k), Int64(n))))
        packed = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
    }

    deinit { packed.deallocate() }

    /// Packs a torch `nn.Linear` weight `[out, in]` (op(B) = weightᵀ, k = in, n = out), panels
    /// in parallel (each panel's bytes depend on its columns alone).
    public convenience init(linearWeight weight: Tensor) {
        precondition(weight.rank == 2)
        let (n, k) = (weight.shape[0], weight.shape[1])
        self.init(k: k, n: n)
        let src = weight.unsafePointer, dst = packed, stride = panelStride
        let panels = (n + BF16Matrix.panel - 1) / BF16Matrix.panel
        parallelFor(panels, grain: 1) { range in
            for p in range {
                let c0 = p * BF16Matrix.panel, width = min(BF16Matrix.panel, n - c0)
                kiln_bf16_pack_b(src + c0 * k, Int64(k), Int64(width), Int64(k), 1, dst + p * stride)
            }
        }
    }

    /// Whether this CPU runs the AVX512-BF16 kernel (else the portable one, slower, same bits).
    public static let hasHardwareSupport: Bool = kiln_cpu_has_avx512_bf16() != 0
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
    if m == 0 || n == 0 { return }
    let k = b.k
    if FLOPCounter.enabled { FLOPCounter.add(2 * Double(m) * Double(n) * Double(k)) }
    let tiling = GEMMTiling(m: m, n: n, k: k)
    let panel = BF16Matrix.panel
    let columns = max(panel, (tiling.columns + panel - 1) / panel * panel)
    let columnBlocks = (n + columns - 1) / columns
    runTasks(tiling.rowBlocks * columnBlocks, workers: workers) { task in
        let r0 = (task / columnBlocks) * tiling.rows, c0 = (task % columnBlocks) * columns
        let rows = min(tiling.rows, m - r0), width = min(columns, n - c0)
        kiln_bf16_gemm(Int64(rows), Int64(width), Int64(k), a + r0 * lda, Int64(lda),
                       b.packed + (c0 / panel) * b.panelStride, c + r0 * ldc + c0, Int64(ldc), beta)
    }
}
