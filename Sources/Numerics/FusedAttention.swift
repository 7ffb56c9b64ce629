import CKilnKernels

/// Float32 attention without masks on AVX-512F CPUs (`kiln_f32_attention`): per head, Kᵀ and V
/// packed once into panels of 64 columns, then tasks of (batch, head, 96 queries) that take the
/// keys 512 at a time with an online softmax, as FlashAttention does, so no score block is
/// written and read again. nil when the kernel does not apply (another CPU, a head wider than
/// `KILN_ATTENTION_MAX_D`, no keys): the caller takes the score-block path.
func fusedFloat32Attention(q: Tensor, k: Tensor, v: Tensor, heads: Int) -> Tensor? {
    let (batch, nq, width) = (q.shape[0], q.shape[1], q.shape[2])
    let nk = k.shape[1], d = width / heads
    let bytes = kiln_f32_attention_workspace_size(Int64(d))
    guard nk > 0, bytes > 0, kiln_cpu_has_avx512f() != 0 else { return nil }
    let kStride = kiln_f32_panels_size(Int64(d), Int64(nk)), vStride = kiln_f32_panels_size(Int64(nk), Int64(d))
    let packedK = UnsafeMutablePointer<Float>.allocate(capacity: batch * heads * kStride)
    let packedV = UnsafeMutablePointer<Float>.allocate(capacity: batch * heads * vStride)
    defer { packedK.deallocate(); packedV.deallocate() }
    let qp = q.unsafePointer, kp = k.unsafePointer, vp = v.unsafePointer
    parallelFor(batch * heads) { r in
        for i in r {
            let b = i / heads, h = i % heads, offset = b * nk * width + h * d
            kiln_f32_pack_panels(kp + offset, Int64(d), Int64(nk), Int64(width), 1, packedK + i * kStride)
            kiln_f32_pack_panels(vp + offset, Int64(nk), Int64(d), Int64(width), 0, packedV + i * vStride)
        }
    }
    if FLOPCounter.enabled { FLOPCounter.add(4 * Double(batch * heads) * Double(nq) * Double(nk) * Double(d)) }
    let out = Tensor(uninitialized: q.shape)
    let op = out.unsafePointer, scale = 1 / Float(d).squareRoot()
    forEachFusedTask(batch: batch, heads: heads, queries: nq, width: width, workspaceBytes: bytes) { rows, offset, head, workspace in
        _ = kiln_f32_attention(Int64(rows), Int64(nk), Int64(d), qp + offset, Int64(width),
                               packedK + head * kStride, packedV + head * vStride, op + offset, Int64(width), scale, workspace)
    }
    return out
}

/// The fused kernels' tasks, (batch, head, 96 queries) on the parallelFor workers, each chunk of
/// tasks with a workspace of `bytes` of its own. `kernel(rows, offset, head, workspace)` runs
/// one task: `rows` queries starting at element `offset` of Q and of the output, of head
/// `head` (= b * heads + h, the index of its packed K and V). The kernels' bits do not depend
/// on this tiling.
func forEachFusedTask(batch: Int, heads: Int, queries nq: Int, width: Int, workspaceBytes bytes: Int,
                      _ kernel: (_ rows: Int, _ offset: Int, _ head: Int, _ workspace: UnsafeMutableRawPointer) -> Void) {
    let d = width / heads, rowsPerTask = 96, blocksPerHead = (nq + rowsPerTask - 1) / rowsPerTask
    parallelFor(batch * heads * blocksPerHead) { r in
        let workspace = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { workspace.deallocate() }
        for task in r {
            let b = task / (heads * blocksPerHead), rest = task % (heads * blocksPerHead)
            let h = rest / blocksPerHead, q0 = (rest % blocksPerHead) * rowsPerTask
            kernel(min(rowsPerTask, nq - q0), (b * nq + q0) * width + h * d, b * heads + h, workspace)
        }
    }
}
