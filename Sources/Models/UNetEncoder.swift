import ModelFiles
import Numerics

/// The half of SDXL's UNet that a ControlNet copies: `conv_in`, the time and "text_time" added
/// embeddings, the down blocks and the cross-attention mid block, read under the same names in
/// both (`conv_in`, `time_embedding`, `add_embedding`, `down_blocks`, `mid_block`).
struct UNetEncoder: Sendable {
    let config: UNetConfig
    let convIn: Conv2D
    let timeLinear1: Linear, timeLinear2: Linear
    /// `time_embedding.cond_proj` (no bias): the guidance-scale embedding into the sinusoidal one.
    let condProj: Linear?
    let addLinear1: Linear, addLinear2: Linear
    let down: [DownLevel]
    let mid: MidLevel

    init(config: UNetConfig, weights w: WeightReader) throws {
        self.config = config
        let ch = config.blockOutChannels, n = ch.count
        let groups = config.normGroups, eps = config.normEpsilon, temb = config.timeEmbedDim
        let ctx = config.crossAttentionDim
        convIn = try w.conv("conv_in", in: config.inChannels, out: ch[0], kernel: config.convInKernel, padding: config.convInKernel / 2)
        timeLinear1 = try w.linear("time_embedding.linear_1", in: ch[0], out: temb)
        timeLinear2 = try w.linear("time_embedding.linear_2", in: temb, out: temb)
        if let dim = config.timeCondProjDim {
            condProj = try w.linear("time_embedding.cond_proj", in: dim, out: ch[0], bias: false)
        } else if w.has("time_embedding.cond_proj.weight") {
            throw ModelFileError.invalidConfig(path: w.source.location(of: w.key("time_embedding.cond_proj.weight")), key: "time_cond_proj_dim",
                reason: "is not in the UNet's config, but its weights hold time_embedding.cond_proj (a guidance embedding, as LCM-SDXL's UNet has); give the UNet's folder with its own config.json")
        } else {
            condProj = nil
        }
        addLinear1 = try w.linear("add_embedding.linear_1", in: config.projectionClassEmbeddingsInputDim, out: temb)
        addLinear2 = try w.linear("add_embedding.linear_2", in: temb, out: temb)

        var levels: [DownLevel] = []
        var output = ch[0]
        for i in 0..<n {
            let input = output
            output = ch[i]
            let lw = w.scoped("down_blocks.\(i)")
            let resnets = try (0..<config.layersPerBlock).map { j in
                try ResnetBlock(lw.scoped("resnets.\(j)"), in: j == 0 ? input : output, out: output,
                                timeEmbedding: temb, groups: groups, epsilon: eps)
            }
            let transformers = config.downBlocks[i] == .crossAttention ? try (0..<config.layersPerBlock).map { j in
                try Transformer2D(lw.scoped("attentions.\(j)"), channels: output, heads: config.heads[i],
                                  depth: config.transformerLayers[i], contextDim: ctx, groups: groups, epsilon: 1e-5)
            } : []
            let downsampler = i == n - 1 ? nil : try lw.conv("downsamplers.0.conv", in: output, out: output, kernel: 3,
                                                              stride: 2, padding: config.downsamplePadding)
            levels.append(DownLevel(resnets: resnets, transformers: transformers, downsampler: downsampler))
        }
        down = levels

        let mw = w.scoped("mid_block")
        let last = ch[n - 1]
        mid = MidLevel(
            first: try ResnetBlock(mw.scoped("resnets.0"), in: last, out: last, timeEmbedding: temb, groups: groups, epsilon: eps),
            attention: !config.midBlockAttention ? nil : (
                transformer: try Transformer2D(mw.scoped("attentions.0"), channels: last, heads: config.heads[n - 1],
                                               depth: config.transformerLayers[n - 1], contextDim: ctx, groups: groups, epsilon: 1e-5),
                second: try ResnetBlock(mw.scoped("resnets.1"), in: last, out: last, timeEmbedding: temb, groups: groups, epsilon: eps)))
    }

    /// The combined time + added-condition embedding, already passed through SiLU as every
    /// resnet's `time_emb_proj` consumes it: `[batch, time_embedding_dim]`.
    func timeEmbedding(timestep: Float, batch: Int, conditioning c: UNetConditioning) -> Tensor {
        var t = timestepEmbedding(Array(repeating: timestep, count: batch), dim: config.blockOutChannels[0],
                                  flipSinToCos: config.flipSinToCos, downscaleFreqShift: config.freqShift)
        // TimestepEmbedding(cond_proj_dim=...): `sample + cond_proj(condition)` before linear_1.
        if let condProj, let cond = c.timestepCond { t.add(condProj(cond)) }
        var emb = timeLinear2(Activation.silu(timeLinear1(t)))
        let ids = c.timeIDs.flatMap { $0 }
        let idEmb = timestepEmbedding(ids, dim: config.additionTimeEmbedDim, flipSinToCos: config.flipSinToCos,
                                      downscaleFreqShift: config.freqShift)
        let perRow = ids.count / batch * config.additionTimeEmbedDim
        let added = concatenateLastAxis([c.textEmbeds, idEmb.reshaped([batch, perRow])])
        emb.add(addLinear2(Activation.silu(addLinear1(added))))
        return Activation.silu(emb)
    }

    /// Checks the inputs against the config; the message says which input is wrong.
    func validate(sample: Tensor, conditioning c: UNetConditioning, network: String) throws {
        let batch = sample.shape[0]
        func bad(_ what: String) -> ModelFileError {
            .invalidConfig(path: "\(network) input", key: what, reason: "does not match the \(network) config")
        }
        guard sample.rank == 4, sample.shape[3] == config.inChannels else { throw bad("sample \(sample.shape) (channels-last, \(config.inChannels) channels)") }
        guard c.encoderHiddenStates.rank == 3, c.encoderHiddenStates.shape[0] == batch,
              c.encoderHiddenStates.shape[2] == config.crossAttentionDim else { throw bad("encoder_hidden_states \(c.encoderHiddenStates.shape)") }
        let pooled = c.textEmbeds.shape.last ?? 0
        guard c.textEmbeds.rank == 2, c.textEmbeds.shape[0] == batch, c.timeIDs.count == batch,
              c.timeIDs.allSatisfy({ $0.count == c.timeIDs[0].count }),
              pooled + c.timeIDs[0].count * config.additionTimeEmbedDim == config.projectionClassEmbeddingsInputDim
        else { throw bad("text_embeds \(c.textEmbeds.shape) with \(c.timeIDs.first?.count ?? 0) time ids") }
        if let cond = c.timestepCond {
            guard let dim = config.timeCondProjDim, cond.shape == [batch, dim] else { throw bad("timestep_cond \(cond.shape)") }
        }
    }

    /// Runs `conv_in` (adding `inputAddition`, a ControlNet's embedded condition, to its output),
    /// the down blocks and the mid block. Returns the mid block's output and every skip
    /// (`down_block_res_samples`), first to last.
    func callAsFunction(_ sample: Tensor, time: Tensor, context: Tensor,
                        inputAddition: Tensor? = nil) -> (mid: Tensor, skips: [Tensor]) {
        var skips: [Tensor] = []
        var h = convIn(sample)
        if let inputAddition { h.add(inputAddition) }
        skips.append(h)
        for level in down { h = level(h, time: time, context: context, skips: &skips) }
        return (mid(h, time: time, context: context), skips)
    }
}
