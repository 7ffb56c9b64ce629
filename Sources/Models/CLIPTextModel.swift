import ModelFiles
import Numerics

/// The settings of a CLIP text transformer, read from transformers' `CLIPTextConfig` JSON.
public struct CLIPTextConfig: Sendable, Equatable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var maxPositions: Int
    public var activation: Activation
    public var layerNormEpsilon: Float
    public var eosTokenID: Int
    /// Output width of `text_projection` (CLIPTextModelWithProjection only).
    public var projectionDim: Int

    public init(_ c: ConfigFile) throws {
        vocabularySize = try c.int("vocab_size", default: 49408, in: 1...1_000_000)
        hiddenSize = try c.int("hidden_size", default: 512, in: 1...16384)
        intermediateSize = try c.int("intermediate_size", default: 2048, in: 1...65536)
        layers = try c.int("num_hidden_layers", default: 12, in: 1...128)
        heads = try c.int("num_attention_heads", default: 8, in: 1...1024)
        maxPositions = try c.int("max_position_embeddings", default: 77, in: 1...4096)
        let act = try c.string("hidden_act", default: "quick_gelu")
        guard let a = Activation(configName: act) else {
            throw configError(c, "hidden_act", "= \"\(act)\" is not supported (supported: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)")
        }
        activation = a
        layerNormEpsilon = Float(try c.double("layer_norm_eps", default: 1e-5, in: 1e-30...1))
        eosTokenID = try c.int("eos_token_id", default: 2, in: 0...Int(Int32.max))
        projectionDim = try c.int("projection_dim", default: 512, in: 1...16384)
        for (k, v) in [("vocab_size", vocabularySize), ("hidden_size", hiddenSize), ("num_hidden_layers", layers),
                       ("num_attention_heads", heads), ("max_position_embeddings", maxPositions)] where v <= 0 {
            throw configError(c, k, "must be positive, found \(v)")
        }
        let estimate = vocabularySize * hiddenSize + layers * (4 * hiddenSize * hiddenSize + 2 * hiddenSize * intermediateSize)
        guard estimate <= 20_000_000_000 else {
            throw configError(c, "num_hidden_layers", "and the sizes imply about \(estimate / 1_000_000) million parameters, over the limit of 20000 million; check the config")
        }
        guard hiddenSize % heads == 0 else {
            throw configError(c, "num_attention_heads", "= \(heads) does not divide hidden_size \(hiddenSize)")
        }
    }
}

/// Everything a CLIP text encoder returns for a batch of token ids.
public struct CLIPTextOutput: Sendable {
    /// The embeddings, then the output of every layer: `layers + 1` tensors `[batch, tokens, hidden]`
    /// (transformers' `hidden_states`; SDXL uses index `-2`, or `-(clip_skip + 2)`).
    public var hiddenStates: [Tensor]
    /// The last layer's output after the final layer norm.
    public var lastHiddenState: Tensor
    /// `lastHiddenState` at each sequence's end-of-text position, `[batch, hidden]`.
    public var pooled: Tensor
    /// `pooled` through `text_projection` (CLIPTextModelWithProjection's `text_embeds`), `[batch, proj]`.
    public var textEmbeds: Tensor?
}

/// transformers' `CLIPTextModel` and `CLIPTextModelWithProjection`: token and position
/// embeddings, pre-norm causal self-attention layers, a final layer norm, and optionally the
/// bias-free `text_projection` of the pooled output.
public struct CLIPTextModel: Sendable {
    struct Layer: Sendable {
        let norm1: LayerNorm, q: Linear, k: Linear, v: Linear, out: Linear
        let norm2: LayerNorm, fc1: Linear, fc2: Linear
    }

    public let config: CLIPTextConfig
    let tokenEmbedding: Tensor
    let positionEmbedding: Tensor
    let layers: [Layer]
    let finalNorm: LayerNorm
    let projection: Linear?

    public init(config: CLIPTextConfig, weights: WeightReader, withProjection: Bool) throws {
        self.config = config
        let h = config.hiddenSize, eps = config.layerNormEpsilon
        // Published SDXL files (older transformers) prefix the keys with "text_model.";
        // transformers 5 writes CLIPTextModel without it. Both load.
        let text = weights.has("embeddings.token_embedding.weight") && !weights.has("text_model.embeddings.token_embedding.weight")
            ? weights : weights.scoped("text_model")
        tokenEmbedding = try text.tensor("embeddings.token_embedding.weight", shape: [config.vocabularySize, h])
        positionEmbedding = try text.tensor("embeddings.position_embedding.weight", shape: [config.maxPositions, h])
        layers = try (0..<config.layers).map { i in
            let l = text.scoped("encoder.layers.\(i)")
            return Layer(norm1: try l.layerNorm("layer_norm1", dim: h, epsilon: eps),
                         q: try l.linear("self_attn.q_proj", in: h, out: h),
                         k: try l.linear("self_attn.k_proj", in: h, out: h),
                         v: try l.linear("self_attn.v_proj", in: h, out: h),
                         out: try l.linear("self_attn.out_proj", in: h, out: h),
                         norm2: try l.layerNorm("layer_norm2", dim: h, epsilon: eps),
                         fc1: try l.linear("mlp.fc1", in: h, out: config.intermediateSize),
                         fc2: try l.linear("mlp.fc2", in: config.intermediateSize, out: h))
        }
        finalNorm = try text.layerNorm("final_layer_norm", dim: h, epsilon: eps)
        projection = withProjection
            ? try weights.linear("text_projection", in: h, out: config.projectionDim, bias: false) : nil
    }

    private init(copying other: CLIPTextModel, config: CLIPTextConfig, tokenEmbedding: Tensor) {
        self.config = config
        self.tokenEmbedding = tokenEmbedding
        positionEmbedding = other.positionEmbedding
        layers = other.layers
        finalNorm = other.finalNorm
        projection = other.projection
    }

    /// The model with `rows` (`[n, hidden]`) appended to its token embeddings, as transformers'
    /// `resize_token_embeddings` + assignment does when diffusers loads a textual inversion: the
    /// new tokens take ids `vocab_size ..< vocab_size + n`. The other weights are shared.
    public func addingTokenEmbeddings(_ rows: Tensor) throws -> CLIPTextModel {
        let h = config.hiddenSize
        guard rows.rank == 2, rows.shape[1] == h else {
            throw ModelFileError.invalidConfig(path: "token embeddings", key: "hidden_size", reason: "rows of width \(rows.shape.last ?? 0) do not fit \(h)")
        }
        let n = rows.shape[0], v = config.vocabularySize
        let table = Tensor(uninitialized: [v + n, h])
        table.unsafePointer.update(from: tokenEmbedding.unsafePointer, count: v * h)
        (table.unsafePointer + v * h).update(from: rows.unsafePointer, count: n * h)
        var extended = config
        extended.vocabularySize = v + n
        return CLIPTextModel(copying: self, config: extended, tokenEmbedding: table)
    }

    /// Runs the encoder on `ids` (`batch` sequences of equal length, at most `maxPositions`).
    /// `attentionMask` (transformers' `attention_mask`, false = 0) hides tokens from the others
    /// as keys, on top of the causal mask; their own outputs are still computed.
    public func callAsFunction(_ ids: [[Int32]], attentionMask: [[Bool]]? = nil) -> CLIPTextOutput {
        let batch = ids.count, tokens = ids[0].count, h = config.hiddenSize
        precondition(ids.allSatisfy { $0.count == tokens } && tokens <= config.maxPositions)
        var x = Tensor(uninitialized: [batch, tokens, h])
        let te = tokenEmbedding.unsafePointer, pe = positionEmbedding.unsafePointer, xp = x.unsafePointer
        for b in 0..<batch {
            for t in 0..<tokens {
                let id = min(max(Int(ids[b][t]), 0), config.vocabularySize - 1)
                let dst = xp + (b * tokens + t) * h
                for j in 0..<h { dst[j] = te[id * h + j] + pe[t * h + j] }
            }
        }
        var states = [x]
        for layer in layers {
            let n = layer.norm1(x)
            let attended = multiHeadAttention(q: layer.q(n), k: layer.k(n), v: layer.v(n), heads: config.heads, causal: true,
                                              keyMask: attentionMask, precision: layer.q.precision)
            x.add(layer.out(attended))
            let mlp = layer.fc2(config.activation(layer.fc1(layer.norm2(x))))
            x.add(mlp)
            states.append(x)
        }
        let last = finalNorm(x)
        let pooled = Tensor(uninitialized: [batch, h])
        for b in 0..<batch {
            let position: Int
            if config.eosTokenID == 2 {
                // transformers' legacy rule for old configs: the highest token id marks the end.
                var best = 0
                for (i, id) in ids[b].enumerated() where id > ids[b][best] { best = i }
                position = best
            } else {
                position = ids[b].firstIndex(of: Int32(config.eosTokenID)) ?? 0
            }
            (pooled.unsafePointer + b * h).update(from: last.unsafePointer + (b * tokens + position) * h, count: h)
        }
        return CLIPTextOutput(hiddenStates: states, lastHiddenState: last, pooled: pooled,
                              textEmbeds: projection.map { $0(pooled) })
    }
}
