import CBLAS

/// Sets OpenBLAS to the same fixed thread count as `parallelFor`, once per process.
let configureBLAS: Void = {
    openblas_set_num_threads(Int32(parallelWorkerCount))
}()

/// `C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C`, row-major, through `cblas_sgemm`.
public func gemm(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
                 b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
                 c: UnsafeMutablePointer<Float>, ldc: Int,
                 alpha: Float = 1, beta: Float = 0) {
    if m == 0 || n == 0 { return }
    _ = configureBLAS
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
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
        precondition(bias == nil || bias!.count == weight.shape[0])
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
