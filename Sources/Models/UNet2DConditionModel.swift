import ModelFiles
import Numerics

/// The conditioning SDXL's UNet takes besides the noisy latents.
public struct UNetConditioning: Sendable {
    /// Text embeddings for cross-attention, `[batch, tokens, cross_attention_dim]`.
    public var encoderHiddenStates: Tensor
    /// Pooled text embedding of text_encoder_2, `[batch, pooled]` (`added_cond_kwargs["text_embeds"]`).
    public var textEmbeds: Tensor
    /// Micro-conditioning values, `batch` rows of 6 (base) or 5 (refiner) (`added_cond_kwargs["time_ids"]`).
    public var timeIDs: [[Float]]

    public init(encoderHiddenStates: Tensor, textEmbeds: Tensor, timeIDs: [[Float]]) {
        self.encoderHiddenStates = encoderHiddenStates; self.textEmbeds = textEmbeds; self.timeIDs = timeIDs
    }
}

/// diffusers' `UNet2DConditionModel` with SDXL's "text_time" added conditioning: sinusoidal
/// time embedding plus an embedding of [pooled text, sinusoidal micro-conditioning], a
/// DownBlock2D/CrossAttnDownBlock2D encoder, a cross-attention mid block and the mirrored decoder.
/// Covers the base (4 channels), refiner (aesthetic score) and inpainting (9 channels) UNets.
public struct UNet2DConditionModel: Sendable {
    public let config: UNetConfig
    let convIn: Conv2D
    let timeLinear1: Linear, timeLinear2: Linear
    let addLinear1: Linear, addLinear2: Linear
    let down: [DownLevel]
    let mid: MidLevel
    let up: [UpLevel]
    let normOut: GroupNorm
    let convOut: Conv2D

    public init(config: UNetConfig, weights w: WeightReader) throws {
        self.config = config
        let ch = config.blockOutChannels, n = ch.count
        let groups = config.normGroups, eps = config.normEpsilon, temb = config.timeEmbedDim
        let ctx = config.crossAttentionDim
        convIn = try w.conv("conv_in", in: config.inChannels, out: ch[0], kernel: config.convInKernel, padding: config.convInKernel / 2)
        timeLinear1 = try w.linear("time_embedding.linear_1", in: ch[0], out: temb)
        timeLinear2 = try w.linear("time_embedding.linear_2", in: temb, out: temb)
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
            transformer: try Transformer2D(mw.scoped("attentions.0"), channels: last, heads: config.heads[n - 1],
                                           depth: config.transformerLayers[n - 1], contextDim: ctx, groups: groups, epsilon: 1e-5),
            second: try ResnetBlock(mw.scoped("resnets.1"), in: last, out: last, timeEmbedding: temb, groups: groups, epsilon: eps))

        let reversed = Array(ch.reversed()), reversedHeads = Array(config.heads.reversed())
        var ups: [UpLevel] = []
        var previous = reversed[0]
        for i in 0..<n {
            let output = reversed[i], input = reversed[min(i + 1, n - 1)]
            let uw = w.scoped("up_blocks.\(i)")
            let count = config.layersPerBlock + 1
            let resnets = try (0..<count).map { j in
                let skip = j == count - 1 ? input : output
                let resIn = j == 0 ? previous : output
                return try ResnetBlock(uw.scoped("resnets.\(j)"), in: resIn + skip, out: output,
                                       timeEmbedding: temb, groups: groups, epsilon: eps)
            }
            let transformers = config.upBlocks[i] == .crossAttention ? try (0..<count).map { j in
                try Transformer2D(uw.scoped("attentions.\(j)"), channels: output, heads: reversedHeads[i],
                                  depth: config.reverseTransformerLayers[i], contextDim: ctx, groups: groups, epsilon: 1e-5)
            } : []
            let upsampler = i == n - 1 ? nil : try uw.conv("upsamplers.0.conv", in: output, out: output, kernel: 3, padding: 1)
            ups.append(UpLevel(resnets: resnets, transformers: transformers, upsampler: upsampler))
            previous = output
        }
        up = ups
        normOut = try w.groupNorm("conv_norm_out", channels: ch[0], groups: groups, epsilon: eps)
        convOut = try w.conv("conv_out", in: ch[0], out: config.outChannels, kernel: config.convOutKernel, padding: config.convOutKernel / 2)
    }

    /// The combined time + added-condition embedding, already passed through SiLU as every
    /// resnet's `time_emb_proj` consumes it: `[batch, time_embedding_dim]`.
    public func timeEmbedding(timestep: Float, batch: Int, conditioning c: UNetConditioning) -> Tensor {
        let t = timestepEmbedding(Array(repeating: timestep, count: batch), dim: config.blockOutChannels[0],
                                  flipSinToCos: config.flipSinToCos, downscaleFreqShift: config.freqShift)
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
    public func validate(sample: Tensor, conditioning c: UNetConditioning) throws {
        let batch = sample.shape[0]
        func bad(_ what: String) -> ModelFileError { .invalidConfig(path: "unet input", key: what, reason: "does not match the UNet config") }
        guard sample.rank == 4, sample.shape[3] == config.inChannels else { throw bad("sample \(sample.shape) (channels-last, \(config.inChannels) channels)") }
        guard c.encoderHiddenStates.rank == 3, c.encoderHiddenStates.shape[0] == batch,
              c.encoderHiddenStates.shape[2] == config.crossAttentionDim else { throw bad("encoder_hidden_states \(c.encoderHiddenStates.shape)") }
        let pooled = c.textEmbeds.shape.last ?? 0
        guard c.textEmbeds.rank == 2, c.textEmbeds.shape[0] == batch, c.timeIDs.count == batch,
              c.timeIDs.allSatisfy({ $0.count == c.timeIDs[0].count }),
              pooled + c.timeIDs[0].count * config.additionTimeEmbedDim == config.projectionClassEmbeddingsInputDim
        else { throw bad("text_embeds \(c.textEmbeds.shape) with \(c.timeIDs.first?.count ?? 0) time ids") }
    }

    /// Predicts the noise (or v) for channels-last `sample` `[batch, h, w, in_channels]` at `timestep`.
    public func callAsFunction(_ sample: Tensor, timestep: Float, conditioning c: UNetConditioning) -> Tensor {
        let batch = sample.shape[0]
        let time = timeEmbedding(timestep: timestep, batch: batch, conditioning: c)
        let context = c.encoderHiddenStates
        var skips: [Tensor] = []
        var h = convIn(sample)
        skips.append(h)
        for level in down { h = level(h, time: time, context: context, skips: &skips) }
        h = mid(h, time: time, context: context)
        for level in up {
            // Upsample to the size of the skip the next level consumes (diffusers' upsample_size).
            let count = level.resnets.count
            let target = skips.count > count ? skips[skips.count - count - 1] : nil
            h = level(h, time: time, context: context, skips: &skips,
                      upsampleTo: target.map { ($0.shape[1], $0.shape[2]) })
        }
        return convOut(normOut(h, silu: true))
    }
}
