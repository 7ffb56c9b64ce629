import Foundation
import ModelFiles
import Models
import Numerics

/// The suite's lines: each SDXL component at its real config with random weights, timed in this
/// process (a child of the driver, so its peak RSS is its own), and a whole render as a process.
enum Lines {
    static let all = ["text-encoder", "text-encoder-2", "unet-512", "unet-1024", "controlnet-1024", "vae-decode-1024", "vae-encode-1024",
                      "taesd-decode-1024", "render-512", "render-1024-lightning", "render-1024-30", "render-1024-controlnet"]

    /// madebyollin/taesdxl's config.json (diffusers' AutoencoderTiny defaults), for the
    /// taesd-decode-1024 line in Kiln and PyTorch.
    static let taesdxlConfig = """
    {"_class_name": "AutoencoderTiny", "act_fn": "relu", "decoder_block_out_channels": [64, 64, 64, 64],
     "encoder_block_out_channels": [64, 64, 64, 64], "force_upcast": false, "in_channels": 3, "latent_channels": 4,
     "latent_magnitude": 3, "latent_shift": 0.5, "num_decoder_blocks": [3, 3, 3, 1], "num_encoder_blocks": [1, 3, 3, 3],
     "out_channels": 3, "scaling_factor": 1.0, "upsampling_scaling_factor": 2}
    """

    /// diffusers/controlnet-canny-sdxl-1.0's config.json (the SDXL base UNet's encoder settings
    /// plus the conditioning embedding's), for the controlnet-1024 line in Kiln and PyTorch and
    /// the ControlNet folder `Benchmarks/full_size_models.py --controlnet` writes.
    static let controlnetCannyConfig = """
    {"_class_name": "ControlNetModel", "act_fn": "silu", "addition_embed_type": "text_time",
     "addition_embed_type_num_heads": 64, "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20],
     "block_out_channels": [320, 640, 1280], "class_embed_type": null, "conditioning_channels": 3,
     "conditioning_embedding_out_channels": [16, 32, 96, 256], "controlnet_conditioning_channel_order": "rgb",
     "cross_attention_dim": 2048, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
     "downsample_padding": 1, "encoder_hid_dim": null, "encoder_hid_dim_type": null, "flip_sin_to_cos": true,
     "freq_shift": 0, "global_pool_conditions": false, "in_channels": 4, "layers_per_block": 2,
     "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "num_attention_heads": null,
     "num_class_embeds": null, "only_cross_attention": false, "projection_class_embeddings_input_dim": 2816,
     "resnet_time_scale_shift": "default", "transformer_layers_per_block": [1, 2, 10], "upcast_attention": null,
     "use_linear_projection": true}
    """

    /// A component line's image size in pixels: its name's, or `size` when given (`--size`).
    static func pixels(_ line: String, size: Int?) -> Int { size ?? (line.hasSuffix("-512") ? 512 : 1024) }

    /// Runs one component line `runs` times in this process; the best call counts. `size`
    /// replaces the line's image size (a multiple of 8).
    static func run(_ line: String, runs: Int, precision: Precision, size: Int? = nil) throws -> LineResult {
        var call: () -> Void
        let px = pixels(line, size: size), n = px / 8
        switch line {
        case "unet-512", "unet-1024":
            let config = try UNetConfig(try PublishedConfigs.config("unet", kind: .base))
            let unet = try UNet2DConditionModel(config: config, weights: WeightReader.random(seed: 1, component: "unet").with(precision: precision))
            let sample = Tensor(shape: [2, n, n, config.inChannels], scalars: randomValues(2 * n * n * config.inChannels, seed: 2))
            let conditioning = UNetConditioning(
                encoderHiddenStates: Tensor(shape: [2, 77, config.crossAttentionDim], scalars: randomValues(2 * 77 * config.crossAttentionDim, seed: 3)),
                textEmbeds: Tensor(shape: [2, 1280], scalars: randomValues(2 * 1280, seed: 4)),
                timeIDs: Array(repeating: [Float(px), Float(px), 0, 0, Float(px), Float(px)], count: 2))
            call = { _ = unet(sample, timestep: 500, conditioning: conditioning) }
        case "controlnet-1024":
            // One ControlNet forward as a guided step runs it: batch 2, the control image at full size.
            let config = try ControlNetConfig(try ConfigFile(path: "controlnet-canny-sdxl-1.0 config", data: Data(controlnetCannyConfig.utf8)))
            let controlnet = try ControlNetModel(config: config, weights: WeightReader.random(seed: 10, component: "controlnet").with(precision: precision))
            let sample = Tensor(shape: [2, n, n, 4], scalars: randomValues(2 * n * n * 4, seed: 2))
            let condition = Tensor(shape: [2, px, px, 3], scalars: randomValues(2 * px * px * 3, seed: 11).map { ($0 + 1) / 2 })
            let conditioning = UNetConditioning(
                encoderHiddenStates: Tensor(shape: [2, 77, 2048], scalars: randomValues(2 * 77 * 2048, seed: 3)),
                textEmbeds: Tensor(shape: [2, 1280], scalars: randomValues(2 * 1280, seed: 4)),
                timeIDs: Array(repeating: [Float(px), Float(px), 0, 0, Float(px), Float(px)], count: 2))
            try controlnet.validate(sample: sample, conditioning: conditioning, condition: condition)
            call = { _ = controlnet(sample, timestep: 500, conditioning: conditioning, condition: condition, scale: 1) }
        case "vae-decode-1024", "vae-encode-1024":
            let vae = try AutoencoderKL(config: try VAEConfig(try PublishedConfigs.config("vae", kind: .base)),
                                        weights: WeightReader.random(seed: 5, component: "vae").with(precision: precision))
            if line == "vae-decode-1024" {
                let latents = Tensor(shape: [1, n, n, 4], scalars: randomValues(n * n * 4, seed: 6))
                call = { _ = vae.decode(latents) }
            } else {
                let image = Tensor(shape: [1, px, px, 3], scalars: randomValues(px * px * 3, seed: 7))
                call = { _ = vae.encode(image) }
            }
        case "taesd-decode-1024":
            let config = try TinyVAEConfig(try ConfigFile(path: "taesdxl config", data: Data(taesdxlConfig.utf8)))
            let vae = try AutoencoderTiny(config: config, weights: WeightReader.random(seed: 9, component: "taesd").with(precision: precision))
            let latents = Tensor(shape: [1, n, n, config.latentChannels], scalars: randomValues(n * n * config.latentChannels, seed: 6))
            call = { _ = vae.decode(latents) }
        case "text-encoder", "text-encoder-2":
            let component = line == "text-encoder" ? "text_encoder" : "text_encoder_2"
            let model = try CLIPTextModel(config: try CLIPTextConfig(try PublishedConfigs.config(component, kind: .base)),
                                          weights: WeightReader.random(seed: 8, component: component).with(precision: precision), withProjection: component == "text_encoder_2")
            let ids: [[Int32]] = [[49406] + (1..<76).map { Int32(320 + $0 * 7) } + [49407]]
            call = { _ = model(ids) }
        default:
            throw BenchError("unknown line \(line) (use: \(all.joined(separator: ", ")))")
        }
        var best = Double.infinity, flop = 0.0
        for _ in 0..<runs {
            FLOPCounter.reset()
            FLOPCounter.enabled = true
            best = min(best, seconds(call))
            FLOPCounter.enabled = false
            flop = FLOPCounter.count
        }
        return LineResult(line: line, engine: "kiln", precision: precision == .bf16 ? "bfloat16" : "float32", seconds: best, gflop: flop / 1e9)
    }
}
