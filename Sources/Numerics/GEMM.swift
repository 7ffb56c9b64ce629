import CBLAS
import Foundation

/// Counts the floating-point operations of every GEMM while enabled (for benchmarks).
public enum FLOPCounter {
    nonisolated(unsafe) static var total: Double = 0
    nonisolated(unsafe) public static var enabled = false
    static let lock = NSLock()

    public static func reset() { lock.lock(); total = 0; lock.unlock() }
    public static var count: Double { lock.lock(); defer { lock.unlock() }; return total }
    static func add(_ flops: Double) { lock.lock(); total += flops; lock.unlock() }
}


/// `C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C`, row-major, through `cblas_sgemm`.
///
/// Large products are cut into the fixed tiles of `GEMMTiling` (chosen from m, n and k alone),
/// each a single-threaded OpenBLAS call, run on the `parallelFor` workers: results are
/// bit-identical whatever the thread count. Pass `threaded: false` from code that already runs
/// inside `parallelFor` (the product is then one call).
public func gemm(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
                 b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
                 c: UnsafeMutablePointer<Float>, ldc: Int,
                 alpha: Float = 1, beta: Float = 0, threaded: Bool = true) {
    gemm(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB, c: c, ldc: ldc,
         alpha: alpha, beta: beta, workers: threaded ? parallelWorkerCount : 0)
}

/// `gemm` on `workers` threads; 0 runs the product as one call (`threaded: false`).
func gemm(m: Int, n: Int, k: Int,
          a: UnsafePointer<Float>, lda: Int, transA: Bool,
          b: UnsafePointer<Float>, ldb: Int, transB: Bool,
          c: UnsafeMutablePointer<Float>, ldc: Int,
          alpha: Float, beta: Float, workers: Int) {
    if m == 0 || n == 0 { return }
    if FLOPCounter.enabled { FLOPCounter.add(2 * Double(m) * Double(n) * Double(k)) }
    let blas = BLASLibrary.shared
    func call(_ m: Int, _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        blas.sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                   Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    let tiling = GEMMTiling(m: m, n: n, k: k)
    guard workers > 0, tiling.count > 1 else { call(m, n, a, b, c); return }
    runTasks(tiling.count, workers: workers) { i in
        let t = tiling.tile(i)
        // Rows of op(A) are columns of a transposed A; columns of op(B) are rows of a transposed B.
        call(t.rows, t.columns, transA ? a + t.row : a + t.row * lda, transB ? b + t.column * ldb : b + t.column,
             c + t.row * ldc + t.column)
    }
}

/// A fully connected layer with torch `nn.Linear` semantics: `y = x Wᵀ + b` over the last axis.
///
/// In float32 the weight stays in torch's `[out, in]` layout and is used transposed by the GEMM;
/// in bf16 it is packed once into a `BF16Matrix` (the float32 copy is not kept).
public struct Linear: Sendable {
    /// The weight as the layer multiplies by it.
    public enum Weight: Sendable {
        case fp32(Tensor)       // [out, in]
        case bf16(BF16Matrix)   // k = in, n = out
    }

    public let weight: Weight
    public let bias: Tensor?    // [out]
    public let inFeatures: Int
    public let outFeatures: Int

    /// - Parameter weight: `[out, in]` as torch stores it, kept as is (fp32) or packed (bf16).
    public init(weight: Tensor, bias: Tensor?, precision: Precision = .fp32) {
        precondition(weight.rank == 2)
        precondition(bias.map { $0.count == weight.shape[0] } ?? true)
        outFeatures = weight.shape[0]; inFeatures = weight.shape[1]
        self.weight = precision == .bf16 ? .bf16(BF16Matrix(linearWeight: weight)) : .fp32(weight)
        self.bias = bias
    }

    /// A layer around weights already packed to bfloat16.
    public init(packed: BF16Matrix, bias: Tensor?) {
        precondition(bias.map { $0.count == packed.n } ?? true)
        weight = .bf16(packed); outFeatures = packed.n; inFeatures = packed.k
        self.bias = bias
    }

    public var precision: Precision {
        if case .bf16 = weight { return .bf16 }
        return .fp32
    }

    /// Applies the layer to `x` of shape `[..., in]`, giving `[..., out]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let k = inFeatures, n = outFeatures
        precondition(x.shape.last == k, "Linear expects last axis \(k), got \(x.shape)")
        let m = x.count / k
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
        let o = out.unsafePointer
        var beta: Float = 0
        if let bias {
            let b = bias.unsafePointer
            parallelFor(m, grain: max(1, 4096 / n)) { r in
                for row in r { (o + row * n).update(from: b, count: n) }
            }
            beta = 1
        }
        switch weight {
        case .fp32(let w):
            gemm(m: m, n: n, k: k, a: x.unsafePointer, lda: k, b: w.unsafePointer, ldb: k, transB: true,
                 c: o, ldc: n, beta: beta)
        case .bf16(let w):
            bf16GEMM(m: m, n: n, a: x.unsafePointer, lda: k, b: w, c: o, ldc: n, beta: beta)
        }
        return out
    }
}

/// `count` independent products `C[i] = A[i] · B[i]` of one shape (row-major, A `[m, k]`,
/// B `[k, n]`, C `[m, n]`, packed `strideA`/`strideB`/`strideC` floats apart), run as
/// `count` x `GEMMTiling` tiles on the `parallelFor` workers: each tile is one single-threaded
/// call, so the bits do not depend on the thread count. Winograd's 36 products use it.
func batchedGEMM(count: Int, m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, strideA: Int, b: UnsafePointer<Float>, strideB: Int,
                 c: UnsafeMutablePointer<Float>, strideC: Int) {
    if count == 0 || m == 0 || n == 0 { return }
    let tiling = GEMMTiling(m: m, n: n, k: k)
    runTasks(count * tiling.count, workers: parallelWorkerCount) { task in
        let i = task / tiling.count, t = tiling.tile(task % tiling.count)
        gemm(m: t.rows, n: t.columns, k: k, a: a + i * strideA + t.row * k, lda: k, transA: false,
             b: b + i * strideB + t.column, ldb: n, transB: false, c: c + i * strideC + t.row * n + t.column, ldc: n,
             alpha: 1, beta: 0, workers: 0)
    }
}
