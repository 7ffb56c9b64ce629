import CKilnKernels
import Foundation

/// Multi-head scaled dot-product attention, `softmax(Q Kᵀ / √d) V`, with torch
/// `scaled_dot_product_attention` semantics (optionally causal).
///
/// `q` is `[batch, queries, heads * d]`, `k` and `v` are `[batch, keys, heads * d]`; the result is
/// `[batch, queries, heads * d]`. `keyMask` (one row of `keys` flags per batch entry, false =
/// masked) leaves keys out of every query's softmax, as a padding attention mask does. Scores are computed per head for a block of queries at a time,
/// so at most one `block x keys` score matrix per task exists: never the full attention matrix.
///
/// In bf16 both products take bfloat16 operands with float32 accumulation: each head's K and V
/// are packed once, Q and the probabilities are rounded as they enter the kernel; the scores,
/// their scaling and the softmax stay float32.
public func multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool = false,
                               keyMask: [[Bool]]? = nil, precision: Precision = .fp32) -> Tensor {
    multiHeadAttention(q: q, k: k, v: v, heads: heads, causal: causal, keyMask: keyMask, precision: precision, fused: true)
}

/// `fused: false` keeps the score-block path even where a fused kernel (`kiln_bf16_attention`,
/// `kiln_f32_attention`) applies, for tests that compare the two.
func multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool,
                        keyMask: [[Bool]]?, precision: Precision, fused: Bool) -> Tensor {
    precondition(q.rank == 3 && k.rank == 3 && v.rank == 3)
    let (batch, nq, width) = (q.shape[0], q.shape[1], q.shape[2])
    let nk = k.shape[1]
    precondition(k.shape[0] == batch && v.shape[0] == batch && k.shape[2] == width && v.shape[2] == width && v.shape[1] == nk)
    precondition(width % heads == 0)
    precondition(keyMask.map { $0.count == batch && $0.allSatisfy { $0.count == nk } } ?? true)
    let d = width / heads
    if precision == .fp32, fused, !causal, keyMask == nil, let out = fusedFloat32Attention(q: q, k: k, v: v, heads: heads) {
        return out
    }
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

    // bf16: Kᵀ (d x keys) and V (keys x d) of every (batch, head), packed once.
    let packedK: UnsafeMutablePointer<UInt16>?, packedV: UnsafeMutablePointer<UInt16>?
    let kStride = BF16Matrix.packedCount(k: d, n: nk), vStride = BF16Matrix.packedCount(k: nk, n: d)
    if precision == .bf16 {
        let pk = UnsafeMutablePointer<UInt16>.allocate(capacity: batch * heads * kStride)
        let pv = UnsafeMutablePointer<UInt16>.allocate(capacity: batch * heads * vStride)
        parallelFor(batch * heads) { r in
            for i in r {
                let b = i / heads, h = i % heads
                BF16Matrix.pack(.float32(kp + b * nk * width + h * d), k: d, n: nk, ldb: width, transposed: true,
                                into: pk + i * kStride, threaded: false)
                BF16Matrix.pack(.float32(vp + b * nk * width + h * d), k: nk, n: d, ldb: width, transposed: false,
                                into: pv + i * vStride, threaded: false)
            }
        }
        packedK = pk; packedV = pv
        if FLOPCounter.enabled { FLOPCounter.add(4 * Double(batch * heads) * Double(nq) * Double(nk) * Double(d)) }
    } else {
        packedK = nil; packedV = nil
    }
    defer { packedK?.deallocate(); packedV?.deallocate() }

    // bf16 with neither a causal nor a key mask (the UNet's attention): the fused kernel, which
    // takes the keys a chunk at a time with an online softmax and never writes a score block.
    let fusedBytes = fused && !causal && keyMask == nil && nk > 0 && kiln_cpu_has_avx512_bf16() != 0
        ? kiln_bf16_attention_workspace_size(Int64(d)) : 0
    if let packedK, let packedV, fusedBytes > 0 {
        forEachFusedTask(batch: batch, heads: heads, queries: nq, width: width, workspaceBytes: fusedBytes) { rows, offset, head, workspace in
            _ = kiln_bf16_attention(Int64(rows), Int64(nk), Int64(d), qp + offset, Int64(width),
                                    packedK + head * kStride, packedV + head * vStride, op + offset, Int64(width), scale, workspace)
        }
        return out
    }

    /// One (batch, head, query block): scores, softmax (masked when causal), then the values.
    /// float32 scales the scores in the GEMM (alpha), bf16 in the softmax.
    func run(_ task: Int, scores: UnsafeMutablePointer<Float>) {
        let b = task / (heads * blocks), rest = task % (heads * blocks)
        let h = rest / blocks, q0 = (rest % blocks) * block
        let rows = min(block, nq - q0), head = b * heads + h
        let qBase = qp + (b * nq + q0) * width + h * d, outBase = op + (b * nq + q0) * width + h * d
        if let packedK {
            kiln_bf16_gemm(Int64(rows), Int64(nk), Int64(d), qBase, Int64(width), packedK + head * kStride, scores, Int64(nk), 0)
        } else {
            gemm(m: rows, n: nk, k: d, a: qBase, lda: width, b: kp + b * nk * width + h * d, ldb: width, transB: true,
                 c: scores, ldc: nk, alpha: scale, threaded: false)
        }
        for i in 0..<rows {
            let row = scores + i * nk
            let limit = causal ? min(nk, q0 + i + 1) : nk
            if let keyMask { for j in 0..<limit where !keyMask[b][j] { row[j] = -.infinity } }
            softmaxRow(row, count: limit, scale: packedK == nil ? 1 : scale)
            if limit < nk { (row + limit).update(repeating: 0, count: nk - limit) }
        }
        if let packedV {
            kiln_bf16_gemm(Int64(rows), Int64(d), Int64(nk), scores, Int64(nk), packedV + head * vStride, outBase, Int64(width), 0)
        } else {
            gemm(m: rows, n: d, k: nk, a: scores, lda: nk, b: vp + b * nk * width + h * d, ldb: width,
                 c: outBase, ldc: width, threaded: false)
        }
    }

    parallelFor(tasks) { r in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: block * nk)
        defer { scores.deallocate() }
        for t in r { run(t, scores: scores) }
    }
    return out
}
