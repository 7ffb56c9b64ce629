import ModelFiles
import Numerics

/// diffusers' `ResnetBlock2D` with the default time-embedding mode: GroupNorm, SiLU, conv,
/// plus a projected time embedding, GroupNorm, SiLU, conv, and a 1x1 shortcut when widths differ.
struct ResnetBlock: Sendable {
    let norm1: GroupNorm, conv1: Conv2D
    let timeProjection: Linear?
    let norm2: GroupNorm, conv2: Conv2D
    let shortcut: Conv2D?
    let outChannels: Int

    init(_ w: WeightReader, in inputs: Int, out outputs: Int, timeEmbedding: Int?, groups: Int, epsilon: Float) throws {
        norm1 = try w.groupNorm("norm1", channels: inputs, groups: groups, epsilon: epsilon)
        conv1 = try w.conv("conv1", in: inputs, out: outputs, kernel: 3, padding: 1)
        timeProjection = try timeEmbedding.map { try w.linear("time_emb_proj", in: $0, out: outputs) }
        norm2 = try w.groupNorm("norm2", channels: outputs, groups: groups, epsilon: epsilon)
        conv2 = try w.conv("conv2", in: outputs, out: outputs, kernel: 3, padding: 1)
        shortcut = inputs == outputs ? nil : try w.conv("conv_shortcut", in: inputs, out: outputs, kernel: 1)
        outChannels = outputs
    }

    /// - Parameter activatedTime: `silu(temb)`, `[batch, timeEmbedding]`, or nil without time input.
    func callAsFunction(_ x: Tensor, activatedTime: Tensor?) -> Tensor {
        var h = conv1(norm1(x, silu: true))
        if let proj = timeProjection, let t = activatedTime {
            let shift = proj(t)  // [batch, out]
            let (n, c) = (h.shape[0], outChannels)
            let pixels = h.count / (n * c)
            h.withUnsafeMutableBufferPointer { buf in
                let p = buf.baseAddress!, s = shift.unsafePointer
                parallelFor(n * pixels, grain: max(1, 8192 / c)) { r in
                    for row in r {
                        let b = row / pixels, d = p + row * c, v = s + b * c
                        for j in 0..<c { d[j] += v[j] }
                    }
                }
            }
        }
        var out = conv2(norm2(h, silu: true))
        out.add(shortcut.map { $0(x) } ?? x)
        return out
    }
}
