import ModelFiles

/// The settings of diffusers' `ControlNetModel` for SDXL, read from its config.json: the UNet
/// encoder's settings (checked as the UNet's are) plus the conditioning embedding's. An SD 1.5
/// ControlNet (no "text_time" added embedding) and options Kiln does not implement are refused
/// with the key named.
public struct ControlNetConfig: Sendable, Equatable {
    /// The encoder half's settings, as a UNet config (its decoder fields mirror the encoder).
    public var unet: UNetConfig
    /// `conditioning_embedding_out_channels`: the widths of the condition image's small encoder.
    public var embeddingChannels: [Int]
    /// `controlnet_conditioning_channel_order`: true for "bgr" (the condition is flipped to BGR).
    public var bgr: Bool
    /// `global_pool_conditions`: residuals averaged over height and width (and guess mode forced on).
    public var globalPoolConditions: Bool
    /// The config.json it was read from, named in messages.
    public var path: String

    public init(_ c: ConfigFile) throws {
        path = c.path
        if let cls = try? c.optionalString("_class_name"), cls != "ControlNetModel" {
            throw configError(c, "_class_name", "= \"\(cls)\" is not a ControlNet (supported: ControlNetModel)")
        }
        guard (try? c.optionalString("addition_embed_type")) == "text_time" else {
            throw configError(c, "addition_embed_type", "is not \"text_time\": this is an SD 1.5-style ControlNet, and Kiln runs SDXL ControlNets only (e.g. diffusers/controlnet-canny-sdxl-1.0)")
        }
        unet = try UNetConfig(c, encoderOnly: true)
        embeddingChannels = try c.intList("conditioning_embedding_out_channels", count: try Self.count(c), default: [16, 32, 96, 256],
                                          in: 1...UNetConfig.maxChannels)
        bgr = try c.choice("controlnet_conditioning_channel_order", default: "rgb", allowed: ["rgb", "bgr"]) == "bgr"
        globalPoolConditions = try c.bool("global_pool_conditions", default: false)
        try c.require("conditioning_channels", in: ["3", nil])
        try c.require("encoder_hid_dim", in: [nil])
        try c.require("num_class_embeds", in: [nil])
        try c.require("time_embedding_dim", in: [nil])
        try c.require("time_cond_proj_dim", in: [nil])
        guard unet.convInKernel == 3 else { throw configError(c, "conv_in_kernel", "must be 3 in a ControlNet") }
        guard unet.timeEmbedDim == unet.blockOutChannels[0] * 4 else {
            throw configError(c, "time_embedding_dim", "is not used by a ControlNet")
        }
    }

    /// The length of `conditioning_embedding_out_channels` (4 when absent), bounded.
    static func count(_ c: ConfigFile) throws -> Int {
        guard c.has("conditioning_embedding_out_channels") else { return 4 }
        guard let list = c.values["conditioning_embedding_out_channels"] as? [any Sendable], (1...8).contains(list.count) else {
            throw configError(c, "conditioning_embedding_out_channels", "must be a list of 1 to 8 widths")
        }
        return list.count
    }

    /// The factor by which the conditioning embedding shrinks the condition image (2 per stride-2 convolution).
    public var downscale: Int { 1 << (embeddingChannels.count - 1) }

    /// Refuses a ControlNet whose sizes don't fit `base`, from the configs alone: its residuals
    /// must match the base UNet's skips, and it must take the base's text and micro-conditioning.
    /// With `vaeScale` (the base VAE's downscale factor), the conditioning embedding must shrink
    /// the control image by the same factor, or its output would not fit the latents.
    public func check(fits base: UNetConfig, vaeScale: Int? = nil) throws {
        func refuse(_ key: String, _ mine: Any, _ theirs: Any) -> ModelFileError {
            .invalidConfig(path: path, key: key, reason: "= \(mine) does not fit the base model, whose UNet has \(theirs); use a ControlNet trained for this base")
        }
        if unet.crossAttentionDim != base.crossAttentionDim { throw refuse("cross_attention_dim", unet.crossAttentionDim, base.crossAttentionDim) }
        if unet.projectionClassEmbeddingsInputDim != base.projectionClassEmbeddingsInputDim {
            throw refuse("projection_class_embeddings_input_dim", unet.projectionClassEmbeddingsInputDim, base.projectionClassEmbeddingsInputDim)
        }
        if unet.additionTimeEmbedDim != base.additionTimeEmbedDim { throw refuse("addition_time_embed_dim", unet.additionTimeEmbedDim, base.additionTimeEmbedDim) }
        if unet.inChannels != 4 { throw refuse("in_channels", unet.inChannels, "4 latent channels to give it") }
        if unet.blockOutChannels != base.blockOutChannels { throw refuse("block_out_channels", unet.blockOutChannels, base.blockOutChannels) }
        if unet.layersPerBlock != base.layersPerBlock { throw refuse("layers_per_block", unet.layersPerBlock, base.layersPerBlock) }
        if let vaeScale, downscale != vaeScale {
            throw ModelFileError.invalidConfig(path: path, key: "conditioning_embedding_out_channels", reason: "has \(embeddingChannels.count) widths, which shrink the control image by \(downscale), but the base model's VAE shrinks images by \(vaeScale); use a ControlNet trained for this base")
        }
    }
}
