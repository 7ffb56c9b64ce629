import ModelFiles
import Numerics

/// diffusers' `Attention` with the default processor: bias-free (or biased) q/k/v projections,
/// scaled dot-product attention over `heads`, and `to_out.0`.
struct AttentionLayer: Sendable {
    let q: Linear, k: Linear, v: Linear, out: Linear
    let heads: Int

    init(_ w: WeightReader, queryDim: Int, contextDim: Int, heads: Int, headDim: Int, bias: Bool) throws {
        let inner = heads * headDim
        q = try w.linear("to_q", in: queryDim, out: inner, bias: bias)
        k = try w.linear("to_k", in: contextDim, out: inner, bias: bias)
        v = try w.linear("to_v", in: contextDim, out: inner, bias: bias)
        out = try w.linear("to_out.0", in: inner, out: queryDim)
        self.heads = heads
    }

    func callAsFunction(_ x: Tensor, context: Tensor? = nil) -> Tensor {
        let c = context ?? x
        return out(multiHeadAttention(q: q(x), k: k(c), v: v(c), heads: heads, precision: q.precision))
    }
}

/// diffusers' `BasicTransformerBlock` as SDXL configures it: layer-normed self-attention,
/// cross-attention on the text embeddings, and a GEGLU feed-forward, each with a residual.
struct TransformerBlock: Sendable {
    let norm1: LayerNorm, attn1: AttentionLayer
    let norm2: LayerNorm, attn2: AttentionLayer
    let norm3: LayerNorm, ffIn: Linear, ffOut: Linear

    init(_ w: WeightReader, dim: Int, contextDim: Int, heads: Int, epsilon: Float) throws {
        let headDim = dim / heads
        norm1 = try w.layerNorm("norm1", dim: dim, epsilon: epsilon)
        attn1 = try AttentionLayer(w.scoped("attn1"), queryDim: dim, contextDim: dim, heads: heads, headDim: headDim, bias: false)
        norm2 = try w.layerNorm("norm2", dim: dim, epsilon: epsilon)
        attn2 = try AttentionLayer(w.scoped("attn2"), queryDim: dim, contextDim: contextDim, heads: heads, headDim: headDim, bias: false)
        norm3 = try w.layerNorm("norm3", dim: dim, epsilon: epsilon)
        let inner = 4 * dim
        ffIn = try w.linear("ff.net.0.proj", in: dim, out: 2 * inner)
        ffOut = try w.linear("ff.net.2", in: inner, out: dim)
    }

    func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        var h = x
        h.add(attn1(norm1(h)))
        h.add(attn2(norm2(h), context: context))
        h.add(ffOut(geglu(ffIn(norm3(h)))))
        return h
    }
}

/// diffusers' `Transformer2DModel` on an image: GroupNorm (eps 1e-6), input projection
/// (linear, or 1x1 conv when `use_linear_projection` is false), transformer blocks, output
/// projection, residual.
struct Transformer2D: Sendable {
    let norm: GroupNorm
    let projIn: Linear, projOut: Linear
    let blocks: [TransformerBlock]

    init(_ w: WeightReader, channels: Int, heads: Int, depth: Int, contextDim: Int, groups: Int, epsilon: Float) throws {
        norm = try w.groupNorm("norm", channels: channels, groups: groups, epsilon: 1e-6)
        // A 1x1 conv projection loads as a linear one (same numbers on channels-last data).
        projIn = try w.linear("proj_in", in: channels, out: channels)
        blocks = try (0..<depth).map {
            try TransformerBlock(w.scoped("transformer_blocks.\($0)"), dim: channels, contextDim: contextDim, heads: heads, epsilon: epsilon)
        }
        projOut = try w.linear("proj_out", in: channels, out: channels)
    }

    /// `x` is `[batch, h, w, c]`; `context` is `[batch, tokens, contextDim]`.
    func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        let (n, hh, ww, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var h = projIn(norm(x).reshaped([n, hh * ww, c]))
        for block in blocks { h = block(h, context: context) }
        var out = projOut(h).reshaped(x.shape)
        out.add(x)
        return out
    }
}
