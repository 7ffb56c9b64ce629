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
    /// The guidance-scale embedding, `[batch, time_cond_proj_dim]`, for UNets that take one
    /// (diffusers' `timestep_cond`); nil otherwise.
    public var timestepCond: Tensor?

    public init(encoderHiddenStates: Tensor, textEmbeds: Tensor, timeIDs: [[Float]], timestepCond: Tensor? = nil) {
        self.encoderHiddenStates = encoderHiddenStates; self.textEmbeds = textEmbeds; self.timeIDs = timeIDs
        self.timestepCond = timestepCond
    }
}

/// diffusers' `UNet2DConditionModel` with SDXL's "text_time" added conditioning: sinusoidal
/// time embedding plus an embedding of [pooled text, sinusoidal micro-conditioning], a
/// DownBlock2D/CrossAttnDownBlock2D encoder, a cross-attention mid block and the mirrored decoder.
/// Covers the base (4 channels), refiner (aesthetic score) and inpainting (9 channels) UNets.
public struct UNet2DConditionModel: Sendable {
    public var config: UNetConfig { encoder.config }
    let encoder: UNetEncoder
    let up: [UpLevel]
    let normOut: GroupNorm
    let convOut: Conv2D

    public init(config: UNetConfig, weights w: WeightReader) throws {
        encoder = try UNetEncoder(config: config, weights: w)
        let ch = config.blockOutChannels, n = ch.count
        let groups = config.normGroups, eps = config.normEpsilon, temb = config.timeEmbedDim
        let ctx = config.crossAttentionDim
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
        encoder.timeEmbedding(timestep: timestep, batch: batch, conditioning: c)
    }

    /// Checks the inputs against the config; the message says which input is wrong.
    public func validate(sample: Tensor, conditioning c: UNetConditioning) throws {
        try encoder.validate(sample: sample, conditioning: c, network: "unet")
    }

    /// Predicts the noise (or v) for channels-last `sample` `[batch, h, w, in_channels]` at
    /// `timestep`, adding a ControlNet's `residuals` to the skips and the mid block's output as
    /// diffusers' `down_block_additional_residuals` / `mid_block_additional_residual`.
    public func callAsFunction(_ sample: Tensor, timestep: Float, conditioning c: UNetConditioning,
                               residuals: ControlNetResiduals? = nil) -> Tensor {
        let batch = sample.shape[0]
        let time = timeEmbedding(timestep: timestep, batch: batch, conditioning: c)
        let context = c.encoderHiddenStates
        var (h, skips) = encoder(sample, time: time, context: context)
        if let residuals {
            precondition(residuals.down.count == skips.count, "\(residuals.down.count) ControlNet residuals for \(skips.count) skips")
            for i in skips.indices { skips[i] = broadcastSum(skips[i], residuals.down[i]) }
            h = broadcastSum(h, residuals.mid)
        }
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
