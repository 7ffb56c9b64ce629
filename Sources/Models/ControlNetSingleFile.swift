import Foundation
import ModelFiles

/// A ControlNet in one `.safetensors` file, in either layout diffusers' `ControlNetModel.from_single_file`
/// reads: diffusers' own names (`controlnet_cond_embedding.*`: a repo's `diffusion_pytorch_model.safetensors`,
/// `OpenPoseXL2.safetensors`, lllyasviel/sd_control_collection's `diffusers_xl_*`) or the original
/// ControlNet names (`control_model.input_blocks.*`, `zero_convs.*`, `input_hint_block.*`,
/// `middle_block_out.*`, with or without the `control_model.` prefix).
///
/// Its config is chosen as diffusers chooses one, without the network: diffusers tells
/// controlnet-(canny|depth)-sdxl-1.0 from its -mid and -small variants by which attention tensors
/// exist and fetches that repo's config, whose encoder settings are the SDXL base UNet's but for
/// the transformer depths. Here the sizes a file shows (block widths, resnets per block, each
/// block's transformer depth, cross-attention and added-embedding widths, the conditioning
/// embedding's widths) are read from its tensor shapes, and what no shape tells (head counts, norm
/// groups, the time-id embedding width) is taken from the base model's UNet, for which the
/// ControlNet was trained; the config is then checked as a config.json would be.
extension ControlNetConfig {
    /// The config a single-file ControlNet with these tensors (diffusers' names) gets: sizes
    /// from their shapes, heads, norm groups and time-id width from `base` (`ControlNetSingleFile`).
    public init(shapes weights: any WeightSource, path: String, base: UNetConfig) throws {
        try self.init(try ControlNetSingleFile.config(weights, path: path, base: base))
    }
}

enum ControlNetSingleFile {
    static let hint = "give an SDXL ControlNet folder (config.json and diffusion_pytorch_model.safetensors) or one ControlNet .safetensors file"

    /// The file's header; a file that is not safetensors at all (a config.json, an image) is
    /// refused as neither a folder nor a ControlNet file.
    static func open(_ path: String) throws -> SafetensorsFile {
        do { return try SafetensorsFile(path: path) } catch let error as ModelFileError {
            guard !path.lowercased().hasSuffix(".safetensors") else { throw error }
            switch error {
            case .truncated, .headerPastEnd, .headerTooLarge, .invalidHeader:
                throw ModelFileError.unsupportedFormat(path: path, reason: "is neither a ControlNet folder nor a safetensors file; \(hint)")
            default: throw error
            }
        }
    }

    /// The file's tensors under diffusers' names.
    static func weights(_ file: SafetensorsFile) throws -> any WeightSource {
        let names = file.tensors.keys
        if file.info("controlnet_cond_embedding.conv_in.weight") != nil { return file }
        for prefix in ["control_model.", ""] where file.info(prefix + "input_hint_block.0.weight") != nil {
            guard let blocks = file.info(prefix + "input_blocks.0.0.weight") != nil ? layersPerBlock(file, prefix: prefix) : nil else {
                throw ModelFileError.unsupportedFormat(path: file.path, reason: "has the original ControlNet's '\(prefix)input_hint_block' but no '\(prefix)input_blocks' in the usual layout; \(hint)")
            }
            return MappedWeights(base: file, entries: originalEntries(file, prefix: prefix, layersPerBlock: blocks))
        }
        let kind: String
        if names.contains(where: { $0.contains("lora_up") || $0.contains("lora_down") || $0.hasPrefix("lora_controlnet") }) {
            kind = " (it looks like a Control-LoRA, which Kiln does not run)"
        } else if names.contains(where: { $0.hasPrefix("lllite_") }) {
            kind = " (it looks like a ControlLLLite, which Kiln does not run)"
        } else if names.contains(where: { $0.hasPrefix("body.") || $0.hasPrefix("adapter.") }) {
            kind = " (it looks like a T2I-Adapter, which Kiln does not run)"
        } else if names.contains(where: { $0.hasPrefix("model.diffusion_model.") }) || file.info("conv_in.weight") != nil {
            kind = " (it looks like a UNet or a whole checkpoint; give it as --model or --unet)"
        } else {
            kind = ""
        }
        throw ModelFileError.unsupportedFormat(path: file.path,
            reason: "holds no ControlNet (neither diffusers' 'controlnet_cond_embedding.conv_in.weight' nor the original 'control_model.input_hint_block.0.weight')\(kind); \(hint)")
    }

    /// `input_blocks` per down block in the original layout: the first downsampler's index (`op`).
    static func layersPerBlock(_ file: SafetensorsFile, prefix: String) -> Int? {
        for i in 1...(UNetConfig.maxLayers + 1) where file.info("\(prefix)input_blocks.\(i).0.op.weight") != nil { return i - 1 }
        return nil
    }

    /// Original names to diffusers names: the UNet encoder's as a UNet's, plus the zero
    /// convolutions and the conditioning embedding (`input_hint_block` 0, then every second
    /// layer; its last convolution is `conv_out`).
    static func originalEntries(_ file: SafetensorsFile, prefix: String, layersPerBlock: Int) -> [String: MappedWeights.Entry] {
        var out = SingleFileCheckpoint.unetEntries(in: file, prefix: prefix, layersPerBlock: layersPerBlock)
        var hint: [Int] = []
        for key in file.tensors.keys where key.hasPrefix(prefix) {
            let parts = key.dropFirst(prefix.count).split(separator: ".").map(String.init)
            guard parts.count >= 3, let i = Int(parts[1]) else { continue }
            let rest = parts[2...].joined(separator: ".")
            switch parts[0] {
            case "zero_convs" where parts.count == 4 && parts[2] == "0":
                out["controlnet_down_blocks.\(i).\(parts[3])"] = .init(key: key, transform: .identity)
            case "middle_block_out" where i == 0:
                out["controlnet_mid_block.\(rest)"] = .init(key: key, transform: .identity)
            case "input_hint_block" where parts.count == 3:
                hint.append(i)
            default: break
            }
        }
        let layers = Set(hint).sorted()
        for (n, i) in layers.enumerated() {
            let name = n == 0 ? "conv_in" : n == layers.count - 1 ? "conv_out" : "blocks.\(n - 1)"
            for leaf in ["weight", "bias"] where file.info("\(prefix)input_hint_block.\(i).\(leaf)") != nil {
                out["controlnet_cond_embedding.\(name).\(leaf)"] = .init(key: "\(prefix)input_hint_block.\(i).\(leaf)", transform: .identity)
            }
        }
        return out
    }

    /// The config.json values a ControlNet with these tensors has, the unseen ones from `base`.
    static func config(_ w: any WeightSource, path: String, base: UNetConfig) throws -> ConfigFile {
        func refuse(_ what: String) -> ModelFileError { .unsupportedFormat(path: path, reason: what) }
        func shape(_ name: String) -> [Int]? { w.info(name)?.shape }
        guard let addition = shape("add_embedding.linear_1.weight"), addition.count == 2 else {
            throw refuse("has no added embedding ('add_embedding'/'label_emb'): it is an SD 1.5-style ControlNet, and Kiln runs SDXL ControlNets only (e.g. diffusers/controlnet-canny-sdxl-1.0)")
        }
        guard let convIn = shape("conv_in.weight"), convIn.count == 4 else { throw refuse("has no 'conv_in.weight' of rank 4; \(hint)") }
        var widths: [Int] = [], types: [String] = [], depths: [Int] = []
        var crossAttention: Int?, linear: Bool?
        while widths.count <= UNetConfig.maxBlocks, let s = shape("down_blocks.\(widths.count).resnets.0.conv1.weight"), s.count == 4 {
            let b = widths.count
            widths.append(s[0])
            let attention = "down_blocks.\(b).attentions.0."
            if shape(attention + "norm.weight") != nil {
                types.append(UNetConfig.DownBlock.crossAttention.rawValue)
                depths.append(count("\(attention)transformer_blocks.", w))
                crossAttention = crossAttention ?? shape(attention + "transformer_blocks.0.attn2.to_k.weight")?.last
                linear = linear ?? shape(attention + "proj_in.weight").map { $0.count == 2 }
            } else {
                types.append(UNetConfig.DownBlock.plain.rawValue)
                depths.append(1)
            }
        }
        guard !widths.isEmpty else { throw refuse("has no 'down_blocks.0.resnets.0.conv1.weight'; \(hint)") }
        guard widths == base.blockOutChannels else {
            throw refuse("has blocks \(widths) wide, but the base model's UNet has \(base.blockOutChannels); use a ControlNet trained for this base")
        }
        // UNetMidBlock2DCrossAttn, or diffusers' UNetMidBlock2D (one resnet, no attention).
        let midAttention = shape("mid_block.attentions.0.norm.weight") != nil
        if midAttention {
            let midDepth = count("mid_block.attentions.0.transformer_blocks.", w)
            guard midDepth == depths[depths.count - 1] || types.last == UNetConfig.DownBlock.plain.rawValue else {
                throw refuse("has \(midDepth) transformer layers in its mid block but \(depths[depths.count - 1]) in its last down block; diffusers' ControlNetModel gives both the same")
            }
            depths[depths.count - 1] = midDepth
            crossAttention = crossAttention ?? shape("mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight")?.last
            linear = linear ?? shape("mid_block.attentions.0.proj_in.weight").map { $0.count == 2 }
        } else if shape("mid_block.resnets.1.conv1.weight") != nil {
            throw refuse("has a second mid-block resnet but no mid-block attention, which no diffusers ControlNetModel has; \(hint)")
        }
        let resnets = count("down_blocks.0.resnets.", w)
        var embedding: [Int] = []
        if let first = shape("controlnet_cond_embedding.conv_in.weight"), first.count == 4 { embedding.append(first[0]) }
        while let s = shape("controlnet_cond_embedding.blocks.\(2 * embedding.count - 1).weight"), s.count == 4 { embedding.append(s[0]) }
        let values: [String: Any] = [
            "_class_name": "ControlNetModel", "addition_embed_type": "text_time", "in_channels": convIn[1],
            "mid_block_type": midAttention ? "UNetMidBlock2DCrossAttn" : "UNetMidBlock2D",
            "down_block_types": types, "block_out_channels": widths, "layers_per_block": resnets,
            "transformer_layers_per_block": depths, "attention_head_dim": base.heads,
            "cross_attention_dim": crossAttention ?? base.crossAttentionDim, "use_linear_projection": linear ?? true,
            "norm_num_groups": base.normGroups, "norm_eps": Double(base.normEpsilon), "flip_sin_to_cos": base.flipSinToCos,
            "freq_shift": Double(base.freqShift), "addition_time_embed_dim": base.additionTimeEmbedDim,
            "projection_class_embeddings_input_dim": addition[1], "conditioning_embedding_out_channels": embedding,
            "conditioning_channels": shape("controlnet_cond_embedding.conv_in.weight")?[1] ?? 3,
        ]
        let data = try JSONSerialization.data(withJSONObject: values)
        return try ConfigFile(path: path, data: data)
    }

    /// How many consecutive `prefix0.`, `prefix1.`, ... exist among the tensors.
    static func count(_ prefix: String, _ w: any WeightSource) -> Int {
        let indices = Set(w.tensorNames.compactMap { name -> Int? in
            guard name.hasPrefix(prefix) else { return nil }
            return Int(name.dropFirst(prefix.count).prefix { $0 != "." })
        })
        var n = 0
        while indices.contains(n) { n += 1 }
        return n
    }
}
