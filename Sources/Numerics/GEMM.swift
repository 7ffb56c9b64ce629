import CBLAS
import Dispatch
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
/// Large products are split into fixed row (or, for few rows, column) blocks run on the
/// `parallelFor` workers, each a single-threaded OpenBLAS call: the split depends only on the
/// sizes, so results are bit-identical from run to run. Pass `threaded: false` from code that
/// already runs inside `parallelFor`.
public func gemm(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
                 b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
                 c: UnsafeMutablePointer<Float>, ldc: Int,
                 alpha: Float = 1, beta: Float = 0, threaded: Bool = true) {
    if m == 0 || n == 0 { return }
    if FLOPCounter.enabled { FLOPCounter.add(2 * Double(m) * Double(n) * Double(k)) }
    let blas = BLASLibrary.shared
    func call(_ m: Int, _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        blas.sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                   Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    let workers = parallelWorkerCount
    let work = Double(m) * Double(n) * Double(k)
    guard threaded, workers > 1, work >= 4_000_000 else { call(m, n, a, b, c); return }
    if m >= workers * 32 && !transA {
        // Row blocks of A and C, rounded to multiples of 16 rows.
        let chunk = ((m + workers - 1) / workers + 15) / 16 * 16
        let blocks = (m + chunk - 1) / chunk
        DispatchQueue.concurrentPerform(iterations: blocks) { i in
            let r0 = i * chunk, rows = min(chunk, m - r0)
            call(rows, n, a + r0 * lda, b, c + r0 * ldc)
        }
    } else if n >= workers * 32 {
        // Column blocks of B and C.
        let chunk = ((n + workers - 1) / workers + 15) / 16 * 16
        let blocks = (n + chunk - 1) / chunk
        DispatchQueue.concurrentPerform(iterations: blocks) { i in
            let c0 = i * chunk, cols = min(chunk, n - c0)
            call(m, cols, a, transB ? b + c0 * ldb : b + c0, c + c0)
        }
    } else {
        call(m, n, a, b, c)
    }
}

/// A fully connected layer with torch `nn.Linear` semantics: `y = x Wᵀ + b` over the last axis.
///
/// The weight stays in torch's `[out, in]` layout and is used transposed by the GEMM.
public struct Linear: Sendable {
    public let weight: Tensor   // [out, in]
    public let bias: Tensor?    // [out]
    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2)
        precondition(bias.map { $0.count == weight.shape[0] } ?? true)
        self.weight = weight
        self.bias = bias
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
        gemm(m: m, n: n, k: k, a: x.unsafePointer, lda: k, b: weight.unsafePointer, ldb: k, transB: true,
             c: o, ldc: n, beta: beta)
        return out
    }
}
