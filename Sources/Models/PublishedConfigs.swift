import Foundation
import ModelFiles

/// The component configs published with stabilityai/stable-diffusion-xl-base-1.0 and
/// -refiner-1.0 (values from their config.json files; options left at diffusers' defaults are
/// omitted), and the inpainting one (the base UNet with `in_channels` 9, as
/// diffusers/stable-diffusion-xl-1.0-inpainting-0.1). diffusers' `from_single_file` fetches these
/// from the Hub; Kiln carries them so a single-file checkpoint of the standard architecture loads
/// with no network and no folder.
public enum PublishedConfigs {
    static let baseUNet = """
    {"_class_name": "UNet2DConditionModel", "act_fn": "silu", "addition_embed_type": "text_time",
     "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280],
     "cross_attention_dim": 2048, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
     "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
     "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4,
     "projection_class_embeddings_input_dim": 2816, "sample_size": 128, "transformer_layers_per_block": [1, 2, 10],
     "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "use_linear_projection": true}
    """
    static let refinerUNet = """
    {"_class_name": "UNet2DConditionModel", "act_fn": "silu", "addition_embed_type": "text_time",
     "addition_time_embed_dim": 256, "attention_head_dim": [6, 12, 24, 24], "block_out_channels": [384, 768, 1536, 1536],
     "cross_attention_dim": 1280,
     "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
     "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
     "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4,
     "projection_class_embeddings_input_dim": 2560, "sample_size": 128, "transformer_layers_per_block": 4,
     "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "use_linear_projection": true}
    """
    static let vae = """
    {"_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
     "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
     "force_upcast": true, "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32,
     "out_channels": 3, "sample_size": 1024, "scaling_factor": 0.13025,
     "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}
    """
    static let clipL = """
    {"architectures": ["CLIPTextModel"], "bos_token_id": 0, "eos_token_id": 2, "hidden_act": "quick_gelu",
     "hidden_size": 768, "intermediate_size": 3072, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
     "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1, "projection_dim": 768, "vocab_size": 49408}
    """
    static let clipBigG = """
    {"architectures": ["CLIPTextModelWithProjection"], "bos_token_id": 0, "eos_token_id": 2, "hidden_act": "gelu",
     "hidden_size": 1280, "intermediate_size": 5120, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
     "num_attention_heads": 20, "num_hidden_layers": 32, "pad_token_id": 1, "projection_dim": 1280, "vocab_size": 49408}
    """

    static let scheduler = """
    {"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
     "clip_sample": false, "interpolation_type": "linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
     "sample_max_value": 1.0, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
     "timestep_spacing": "leading", "trained_betas": null, "use_karras_sigmas": false}
    """

    /// The published config of `component` for a checkpoint of `kind`.
    public static func config(_ component: String, kind: SingleFileCheckpoint.Kind) throws -> ConfigFile {
        let text: String
        switch component {
        case "unet": text = kind == .refiner ? refinerUNet : baseUNet
        case "vae": text = vae
        case "text_encoder": text = clipL
        case "text_encoder_2": text = clipBigG
        case "scheduler": text = scheduler
        default: throw ModelFileError.missingComponent(folder: "built-in SDXL configs", component: component)
        }
        var config = try ConfigFile(path: "built-in SDXL \(kind.rawValue) \(component) config", data: Data(text.utf8))
        if component == "unet" && kind == .inpaint {
            var values = config.values
            values["in_channels"] = 9.0
            config = ConfigFile(path: config.path, values: values)
        }
        return config
    }

    /// The pad token of the published tokenizer folders (their special_tokens_map.json):
    /// `tokenizer` pads with `<|endoftext|>`, `tokenizer_2` (base and refiner) with `!`.
    public static func padToken(_ tokenizer: String) throws -> String {
        switch tokenizer {
        case "tokenizer": return "<|endoftext|>"
        case "tokenizer_2": return "!"
        default: throw ModelFileError.missingComponent(folder: "built-in SDXL configs", component: tokenizer)
        }
    }

    /// The published config.json text of a base-model component (`unet`, `vae`, `text_encoder`,
    /// `text_encoder_2`, `scheduler`), for benchmarks that build the same model in PyTorch.
    public static func json(_ component: String) throws -> String {
        switch component {
        case "unet": return baseUNet
        case "vae": return vae
        case "text_encoder": return clipL
        case "text_encoder_2": return clipBigG
        case "scheduler": return scheduler
        default: throw ModelFileError.missingComponent(folder: "built-in SDXL configs", component: component)
        }
    }

    /// UNet base config, for benchmarks at full size.
    public static func baseUNetConfig() throws -> ConfigFile { try config("unet", kind: .base) }
}
