import ModelFiles

/// The settings of diffusers' `UNet2DConditionModel` that SDXL checkpoints use, read from the
/// UNet's config.json. Options Kiln does not implement are refused with the key named.
public struct UNetConfig: Sendable, Equatable {
    public enum DownBlock: String, Sendable { case plain = "DownBlock2D", crossAttention = "CrossAttnDownBlock2D" }
    public enum UpBlock: String, Sendable { case plain = "UpBlock2D", crossAttention = "CrossAttnUpBlock2D" }

    public var inChannels: Int
    public var outChannels: Int
    public var sampleSize: Int
    public var blockOutChannels: [Int]
    public var downBlocks: [DownBlock]
    public var upBlocks: [UpBlock]
    public var layersPerBlock: Int
    public var transformerLayers: [Int]
    public var reverseTransformerLayers: [Int]
    /// Attention heads per block (diffusers' `attention_head_dim`, which SDXL uses as a head count).
    public var heads: [Int]
    public var crossAttentionDim: Int
    public var normGroups: Int
    public var normEpsilon: Float
    public var flipSinToCos: Bool
    public var freqShift: Float
    public var additionTimeEmbedDim: Int
    public var projectionClassEmbeddingsInputDim: Int
    public var timeEmbedDim: Int
    public var convInKernel: Int
    public var convOutKernel: Int
    public var downsamplePadding: Int

    /// Number of micro-conditioning values the add-embedding expects after the pooled text
    /// embedding of width `pooledDim` (6 for base: sizes and crop; 5 for refiner: aesthetic score).
    public func timeIDCount(pooledDim: Int) -> Int { (projectionClassEmbeddingsInputDim - pooledDim) / additionTimeEmbedDim }

    public init(_ c: ConfigFile) throws {
        inChannels = try c.int("in_channels", default: 4)
        outChannels = try c.int("out_channels", default: 4)
        sampleSize = try c.int("sample_size", default: 128)
        let down = try c.stringList("down_block_types")
        downBlocks = try down.enumerated().map { i, s in
            guard let b = DownBlock(rawValue: s) else {
                throw configError(c, "down_block_types", "[\(i)] = \"\(s)\" is not supported (supported: DownBlock2D, CrossAttnDownBlock2D)")
            }
            return b
        }
        let n = downBlocks.count
        guard n > 0 else { throw configError(c, "down_block_types", "is empty") }
        let up = try c.stringList("up_block_types")
        upBlocks = try up.enumerated().map { i, s in
            guard let b = UpBlock(rawValue: s) else {
                throw configError(c, "up_block_types", "[\(i)] = \"\(s)\" is not supported (supported: UpBlock2D, CrossAttnUpBlock2D)")
            }
            return b
        }
        guard upBlocks.count == n else { throw configError(c, "up_block_types", "has \(upBlocks.count) entries but down_block_types has \(n)") }
        blockOutChannels = try c.intList("block_out_channels", count: n)
        layersPerBlock = try c.int("layers_per_block", default: 2)
        transformerLayers = try c.intList("transformer_layers_per_block", count: n, default: Array(repeating: 1, count: n))
        if c.has("reverse_transformer_layers_per_block") {
            throw configError(c, "reverse_transformer_layers_per_block", "is not supported; only SDXL-style UNets are")
        }
        reverseTransformerLayers = transformerLayers.reversed()
        if c.has("num_attention_heads") {
            heads = try c.intList("num_attention_heads", count: n)
        } else {
            heads = try c.intList("attention_head_dim", count: n, default: Array(repeating: 8, count: n))
        }
        crossAttentionDim = try c.int("cross_attention_dim", default: 1280)
        normGroups = try c.int("norm_num_groups", default: 32)
        normEpsilon = Float(try c.double("norm_eps", default: 1e-5))
        flipSinToCos = try c.bool("flip_sin_to_cos", default: true)
        freqShift = Float(try c.double("freq_shift", default: 0))
        convInKernel = try c.int("conv_in_kernel", default: 3)
        convOutKernel = try c.int("conv_out_kernel", default: 3)
        downsamplePadding = try c.int("downsample_padding", default: 1)
        timeEmbedDim = try c.int("time_embedding_dim", default: blockOutChannels[0] * 4)

        try c.choice("addition_embed_type", allowed: ["text_time"])
        additionTimeEmbedDim = try c.int("addition_time_embed_dim")
        projectionClassEmbeddingsInputDim = try c.int("projection_class_embeddings_input_dim")
        try c.require("use_linear_projection", in: ["true", "false", nil])
        try c.require("mid_block_type", in: ["UNetMidBlock2DCrossAttn", nil])
        try c.require("act_fn", in: ["silu", nil])
        try c.require("class_embed_type", in: [nil])
        try c.require("encoder_hid_dim_type", in: [nil])
        try c.require("time_embedding_type", in: ["positional", nil])
        try c.require("resnet_time_scale_shift", in: ["default", nil])
        try c.require("time_cond_proj_dim", in: [nil])
        try c.require("timestep_post_act", in: [nil])
        try c.require("time_embedding_act_fn", in: [nil])
        try c.require("only_cross_attention", in: ["false", nil])
        try c.require("dual_cross_attention", in: ["false", nil])
        try c.require("upcast_attention", in: ["false", "true", nil])
        try c.require("attention_type", in: ["default", nil])
        try c.require("center_input_sample", in: ["false", nil])
        try c.require("mid_block_scale_factor", in: ["1", nil])
        try c.require("resnet_out_scale_factor", in: ["1", nil])
        try c.require("cross_attention_norm", in: [nil])
        try c.require("resnet_skip_time_act", in: ["false", nil])

        for (i, ch) in blockOutChannels.enumerated() {
            guard ch > 0, ch % normGroups == 0 else {
                throw configError(c, "block_out_channels", "[\(i)] = \(ch) is not a positive multiple of norm_num_groups \(normGroups)")
            }
            guard heads[i] > 0, ch % heads[i] == 0 else {
                throw configError(c, "attention_head_dim", "[\(i)] = \(heads[i]) heads do not divide \(ch) channels")
            }
        }
        guard inChannels > 0, outChannels > 0, layersPerBlock > 0, crossAttentionDim > 0, additionTimeEmbedDim > 0,
              additionTimeEmbedDim % 2 == 0 else {
            throw configError(c, "in_channels", "and the other sizes must be positive (addition_time_embed_dim even)")
        }
        guard convInKernel % 2 == 1, convOutKernel % 2 == 1 else {
            throw configError(c, "conv_in_kernel", "must be odd")
        }
    }
}
