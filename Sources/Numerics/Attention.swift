import Foundation

/// Multi-head scaled dot-product attention, `softmax(Q Kᵀ / √d) V`, with torch
/// `scaled_dot_product_attention` semantics (optionally causal).
///
/// `q` is `[batch, queries, heads * d]`, `k` and `v` are `[batch, keys, heads * d]`; the result is
/// `[batch, queries, heads * d]`. Scores are computed per head for a block of queries at a time,
/// so at most one `block x keys` score matrix per task exists: never the full attention matrix.
public func multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool = false) -> Tensor {
    precondition(q.rank == 3 && k.rank == 3 && v.rank == 3)
    let (batch, nq, width) = (q.shape[0], q.shape[1], q.shape[2])
    let nk = k.shape[1]
    precondition(k.shape[0] == batch && v.shape[0] == batch && k.shape[2] == width && v.shape[2] == width && v.shape[1] == nk)
    precondition(width % heads == 0)
    let d = width / heads
    let scale = 1 / Float(d).squareRoot()
    let out = Tensor(uninitialized: q.shape)
    let qp = q.unsafePointer, kp = k.unsafePointer, vp = v.unsafePointer, op = out.unsafePointer

    // Blocks of queries: a score block of about 1 MiB, but at least 256 queries while the
    // block stays within 16 MiB. Each block's Q·Kᵀ packs all of K, so with the VAE's 16384
    // keys (1024 px) 16-query blocks spent more time packing K than multiplying. Tasks (batch,
    // head, block) run on the parallelFor workers, each with single-threaded GEMMs.
    let keys = max(nk, 1)
    let block = max(1, min(nq, max((1 << 18) / keys, min(256, (1 << 22) / keys))))
    let blocks = (nq + block - 1) / block
    let tasks = batch * heads * blocks

    func run(_ task: Int, scores: UnsafeMutablePointer<Float>) {
        let b = task / (heads * blocks), rest = task % (heads * blocks)
        let h = rest / blocks, q0 = (rest % blocks) * block
        let rows = min(block, nq - q0)
        let qBase = qp + (b * nq + q0) * width + h * d
        let kBase = kp + b * nk * width + h * d
        let vBase = vp + b * nk * width + h * d
        gemm(m: rows, n: nk, k: d, a: qBase, lda: width, b: kBase, ldb: width, transB: true,
             c: scores, ldc: nk, alpha: scale, threaded: false)
        for i in 0..<rows {
            let row = scores + i * nk
            let limit = causal ? min(nk, q0 + i + 1) : nk
            softmaxRow(row, count: limit)
            if limit < nk { (row + limit).update(repeating: 0, count: nk - limit) }
        }
        gemm(m: rows, n: d, k: nk, a: scores, lda: nk, b: vBase, ldb: width,
             c: op + (b * nq + q0) * width + h * d, ldc: width, threaded: false)
    }

    parallelFor(tasks) { r in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: block * nk)
        defer { scores.deallocate() }
        for t in r { run(t, scores: scores) }
    }
    return out
}
