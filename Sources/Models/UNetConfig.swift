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
    /// Width of the guidance-scale embedding the time embedding takes (`time_cond_proj_dim`, as
    /// LCM-SDXL's UNet has); nil for the usual UNet.
    public var timeCondProjDim: Int?
    /// Whether the mid block has its transformer (`UNetMidBlock2DCrossAttn`: resnet, transformer,
    /// resnet); false for a ControlNet's `UNetMidBlock2D` (one resnet, as diffusers builds it there).
    public var midBlockAttention = true

    /// Number of micro-conditioning values the add-embedding expects after the pooled text
    /// embedding of width `pooledDim` (6 for base: sizes and crop; 5 for refiner: aesthetic score).
    public func timeIDCount(pooledDim: Int) -> Int { (projectionClassEmbeddingsInputDim - pooledDim) / additionTimeEmbedDim }

    public init(_ c: ConfigFile) throws { try self.init(c, encoderOnly: false) }

    /// - Parameter encoderOnly: the config of a network with the UNet's encoder and no decoder
    ///   (a ControlNet's): `up_block_types` may be absent and then mirrors `down_block_types`.
    init(_ c: ConfigFile, encoderOnly: Bool) throws {
        inChannels = try c.int("in_channels", default: 4, in: 1...64)
        outChannels = try c.int("out_channels", default: 4, in: 1...64)
        sampleSize = try c.int("sample_size", default: 128, in: 1...4096)
        let down = try c.stringList("down_block_types")
        downBlocks = try down.enumerated().map { i, s in
            guard let b = DownBlock(rawValue: s) else {
                throw configError(c, "down_block_types", "[\(i)] = \"\(s)\" is not supported (supported: DownBlock2D, CrossAttnDownBlock2D)")
            }
            return b
        }
        let n = downBlocks.count
        guard n > 0 else { throw configError(c, "down_block_types", "is empty") }
        guard n <= UNetConfig.maxBlocks else { throw configError(c, "down_block_types", "has \(n) blocks; at most \(UNetConfig.maxBlocks) are supported") }
        let mirrored = downBlocks.reversed().map { $0 == .crossAttention ? UpBlock.crossAttention.rawValue : UpBlock.plain.rawValue }
        let up = try c.stringList("up_block_types", default: encoderOnly ? mirrored : nil)
        upBlocks = try up.enumerated().map { i, s in
            guard let b = UpBlock(rawValue: s) else {
                throw configError(c, "up_block_types", "[\(i)] = \"\(s)\" is not supported (supported: UpBlock2D, CrossAttnUpBlock2D)")
            }
            return b
        }
        guard upBlocks.count == n else { throw configError(c, "up_block_types", "has \(upBlocks.count) entries but down_block_types has \(n)") }
        blockOutChannels = try c.intList("block_out_channels", count: n, in: 1...UNetConfig.maxChannels)
        layersPerBlock = try c.int("layers_per_block", default: 2, in: 1...UNetConfig.maxLayers)
        transformerLayers = try c.intList("transformer_layers_per_block", count: n, default: Array(repeating: 1, count: n), in: 0...UNetConfig.maxLayers)
        if c.has("reverse_transformer_layers_per_block") {
            throw configError(c, "reverse_transformer_layers_per_block", "is not supported; only SDXL-style UNets are")
        }
        reverseTransformerLayers = transformerLayers.reversed()
        if c.has("num_attention_heads") {
            heads = try c.intList("num_attention_heads", count: n, in: 1...UNetConfig.maxHeads)
        } else {
            heads = try c.intList("attention_head_dim", count: n, default: Array(repeating: 8, count: n), in: 1...UNetConfig.maxHeads)
        }
        crossAttentionDim = try c.int("cross_attention_dim", default: 1280, in: 1...UNetConfig.maxChannels)
        normGroups = try c.int("norm_num_groups", default: 32, in: 1...UNetConfig.maxChannels)
        normEpsilon = Float(try c.double("norm_eps", default: 1e-5, in: 1e-30...1))
        flipSinToCos = try c.bool("flip_sin_to_cos", default: true)
        freqShift = Float(try c.double("freq_shift", default: 0, in: -1e6...1e6))
        convInKernel = try c.int("conv_in_kernel", default: 3, in: 1...7)
        convOutKernel = try c.int("conv_out_kernel", default: 3, in: 1...7)
        downsamplePadding = try c.int("downsample_padding", default: 1, in: 0...3)
        timeEmbedDim = try c.int("time_embedding_dim", default: blockOutChannels[0] * 4, in: 1...4 * UNetConfig.maxChannels)

        try c.choice("addition_embed_type", allowed: ["text_time"])
        additionTimeEmbedDim = try c.int("addition_time_embed_dim", in: 1...UNetConfig.maxChannels)
        projectionClassEmbeddingsInputDim = try c.int("projection_class_embeddings_input_dim", in: 1...16 * UNetConfig.maxChannels)
        try c.require("use_linear_projection", in: ["true", "false", nil])
        // UNetMidBlock2D only in a ControlNet, whose mid block diffusers then builds as one resnet.
        try c.require("mid_block_type", in: encoderOnly ? ["UNetMidBlock2DCrossAttn", "UNetMidBlock2D", nil] : ["UNetMidBlock2DCrossAttn", nil])
        midBlockAttention = (try? c.optionalString("mid_block_type")) != "UNetMidBlock2D"
        try c.require("act_fn", in: ["silu", nil])
        try c.require("class_embed_type", in: [nil])
        try c.require("encoder_hid_dim_type", in: [nil])
        try c.require("time_embedding_type", in: ["positional", nil])
        try c.require("resnet_time_scale_shift", in: ["default", nil])
        timeCondProjDim = c.has("time_cond_proj_dim") ? try c.int("time_cond_proj_dim", in: 1...UNetConfig.maxChannels) : nil
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
        let estimate = parameterEstimate
        guard estimate <= UNetConfig.maxParameters else {
            throw configError(c, "layers_per_block", "and the block sizes imply about \(estimate / 1_000_000) million parameters, over the limit of \(UNetConfig.maxParameters / 1_000_000) million; check the config")
        }
    }

    /// Bounds checked when a config is parsed, far above any SDXL UNet's.
    public static let maxBlocks = 8, maxChannels = 8192, maxLayers = 64, maxHeads = 1024
    /// 20 billion parameters (80 GB of float32), about 8 times SDXL's UNet.
    public static let maxParameters = 20_000_000_000

    /// A rough upper count of the UNet's parameters from its sizes (resnets as two 3x3
    /// convolutions, transformer layers as 20 ch^2 each), known before anything is allocated.
    public var parameterEstimate: Int {
        var total = 0
        for (i, ch) in blockOutChannels.enumerated() {
            let square = ch * ch  // at most 2^26: the bounds above keep every product far below Int.max
            let resnets = 2 * layersPerBlock + 1
            total += resnets * 18 * square + resnets * transformerLayers[i] * (20 * square + 2 * ch * crossAttentionDim)
        }
        return total
    }
}
