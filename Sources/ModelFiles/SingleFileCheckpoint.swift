import Foundation

/// An original Stability AI SDXL checkpoint in one `.safetensors` file (the layout of
/// `sd_xl_base_1.0.safetensors`), presented per component in diffusers' naming, following the
/// key conversion of diffusers' `loaders/single_file_utils.py`.
///
/// Prefixes: UNet `model.diffusion_model.`, VAE `first_stage_model.`, CLIP ViT-L
/// `conditioner.embedders.0.transformer.` (base only), OpenCLIP ViT-bigG
/// `conditioner.embedders.1.model.` (base) or `conditioner.embedders.0.model.` (refiner).
/// The kind is told from the tensors as diffusers' `infer_diffusers_model_type` does: both text
/// encoders make a base, a 9-channel `conv_in` (`input_blocks.0.0.weight`) an inpainting base,
/// OpenCLIP alone a refiner. Pickled checkpoints (`.ckpt`) are refused from their first bytes.
public struct SingleFileCheckpoint: Sendable {
    public enum Kind: String, Sendable { case base, refiner, inpaint }

    public let path: String
    public let file: SafetensorsFile
    public let kind: Kind

    static let unetPrefix = "model.diffusion_model."
    static let vaePrefix = "first_stage_model."
    static let clipPrefix = "conditioner.embedders.0.transformer."
    static let baseOpenCLIPPrefix = "conditioner.embedders.1.model."
    static let refinerOpenCLIPPrefix = "conditioner.embedders.0.model."

    public init(path: String) throws {
        let pickled = SingleFileCheckpoint.pickledContainer(path)
        if let kind = pickled ?? (["ckpt", "pt", "pth", "bin"].contains((path as NSString).pathExtension.lowercased()) ? "file" : nil) {
            throw ModelFileError.unsupportedFormat(path: path,
                reason: "is a pickled PyTorch checkpoint (\(kind)); Kiln reads only safetensors, since pickles can run code: convert it to .safetensors (or use the model's .safetensors release) and pass that file")
        }
        self.path = path
        file = try SafetensorsFile(path: path)
        let names = file.tensors
        guard names.keys.contains(where: { $0.hasPrefix(SingleFileCheckpoint.unetPrefix) }) else {
            throw ModelFileError.unsupportedFormat(path: path,
                reason: "has no 'model.diffusion_model.' tensors, so it is not an SDXL checkpoint in the original layout")
        }
        if names.keys.contains(where: { $0.hasPrefix(SingleFileCheckpoint.baseOpenCLIPPrefix) }) {
            let convIn = names[SingleFileCheckpoint.unetPrefix + "input_blocks.0.0.weight"]
            kind = convIn?.shape.count == 4 && convIn?.shape[1] == 9 ? .inpaint : .base
        } else if names.keys.contains(where: { $0.hasPrefix(SingleFileCheckpoint.refinerOpenCLIPPrefix) }) {
            kind = .refiner
        } else {
            throw ModelFileError.unsupportedFormat(path: path,
                reason: "has no OpenCLIP text encoder ('conditioner.embedders.*.model.'), so it is not an SDXL base or refiner checkpoint")
        }
    }

    /// What `torch.save` wrote, told from the first bytes: a zip archive (`PK\u{3}\u{4}`, torch 1.6
    /// and later, how `.ckpt` files are usually stored) or a pickle stream (protocol 2 to 5, the
    /// legacy format); nil for anything else.
    static func pickledContainer(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let head = [UInt8](handle.readData(ofLength: 4))
        if head.count == 4 && head == [0x50, 0x4B, 0x03, 0x04] { return "zip archive" }
        if head.count >= 2 && head[0] == 0x80 && (2...5).contains(head[1]) { return "pickle stream" }
        return nil
    }

    /// Components present, with the diffusers class each becomes.
    public var components: [(name: String, className: String)] {
        var out: [(String, String)] = []
        if kind != .refiner { out.append(("text_encoder", "CLIPTextModel")) }
        out.append(("text_encoder_2", "CLIPTextModelWithProjection"))
        out.append(("unet", "UNet2DConditionModel"))
        out.append(("vae", "AutoencoderKL"))
        return out
    }

    /// The tensors of `component` under diffusers names. The UNet's block arithmetic needs
    /// `layersPerBlock` from its config.
    public func weights(_ component: String, layersPerBlock: Int = 2) throws -> MappedWeights {
        switch component {
        case "unet": return MappedWeights(base: file, entries: unetEntries(layersPerBlock: layersPerBlock))
        case "vae": return MappedWeights(base: file, entries: try vaeEntries())
        case "text_encoder" where kind != .refiner:
            return MappedWeights(base: file, entries: prefixed(SingleFileCheckpoint.clipPrefix) { key in
                key.hasSuffix("position_ids") ? nil : (key.hasPrefix("text_model.") ? key : "text_model." + key)
            })
        case "text_encoder_2":
            return MappedWeights(base: file, entries: try openCLIPEntries(
                prefix: kind == .refiner ? SingleFileCheckpoint.refinerOpenCLIPPrefix : SingleFileCheckpoint.baseOpenCLIPPrefix))
        default:
            throw ModelFileError.missingComponent(folder: path, component: component)
        }
    }

    private func prefixed(_ prefix: String, _ rename: (String) -> String?) -> [String: MappedWeights.Entry] {
        SingleFileCheckpoint.prefixed(in: file, prefix, rename)
    }

    private static func prefixed(in file: SafetensorsFile, _ prefix: String, _ rename: (String) -> String?) -> [String: MappedWeights.Entry] {
        var out: [String: MappedWeights.Entry] = [:]
        for key in file.tensors.keys where key.hasPrefix(prefix) {
            if let name = rename(String(key.dropFirst(prefix.count))) {
                out[name] = .init(key: key, transform: .identity)
            }
        }
        return out
    }

    static let resnetNames: [(String, String)] = [
        ("in_layers.0.", "norm1."), ("in_layers.2.", "conv1."), ("emb_layers.1.", "time_emb_proj."),
        ("out_layers.0.", "norm2."), ("out_layers.3.", "conv2."), ("skip_connection.", "conv_shortcut."),
    ]

    static func resnet(_ rest: String) -> String? {
        for (old, new) in resnetNames where rest.hasPrefix(old) { return new + rest.dropFirst(old.count) }
        return nil
    }

    /// Original UNet names to diffusers names (`input_blocks`/`middle_block`/`output_blocks`
    /// to `down_blocks`/`mid_block`/`up_blocks`).
    func unetEntries(layersPerBlock: Int) -> [String: MappedWeights.Entry] {
        SingleFileCheckpoint.unetEntries(in: file, layersPerBlock: layersPerBlock)
    }

    /// The same for any file holding `model.diffusion_model.*` tensors: a whole checkpoint, or a
    /// UNet alone (`--unet`).
    public static func unetEntries(in file: SafetensorsFile, layersPerBlock: Int) -> [String: MappedWeights.Entry] {
        unetEntries(in: file, prefix: unetPrefix, layersPerBlock: layersPerBlock)
    }

    /// The same under another prefix: an original-layout ControlNet's encoder (`control_model.`,
    /// or none) has the UNet's `input_blocks`/`middle_block` names.
    public static func unetEntries(in file: SafetensorsFile, prefix: String, layersPerBlock: Int) -> [String: MappedWeights.Entry] {
        let per = layersPerBlock + 1
        let fixed: [(String, String)] = [
            ("time_embed.0.", "time_embedding.linear_1."), ("time_embed.2.", "time_embedding.linear_2."),
            ("label_emb.0.0.", "add_embedding.linear_1."), ("label_emb.0.2.", "add_embedding.linear_2."),
            ("input_blocks.0.0.", "conv_in."), ("out.0.", "conv_norm_out."), ("out.2.", "conv_out."),
        ]
        return prefixed(in: file, prefix) { key in
            for (old, new) in fixed where key.hasPrefix(old) { return new + key.dropFirst(old.count) }
            if key.hasPrefix("middle_block.") {
                let parts = key.split(separator: ".", maxSplits: 2).map(String.init)
                guard parts.count == 3, let j = Int(parts[1]) else { return nil }
                if j == 0 || j == 2 { return SingleFileCheckpoint.resnet(parts[2]).map { "mid_block.resnets.\(j / 2).\($0)" } }
                return j == 1 ? "mid_block.attentions.0.\(parts[2])" : nil
            }
            let parts = key.split(separator: ".", maxSplits: 3).map(String.init)
            guard parts.count == 4, let i = Int(parts[1]), let j = Int(parts[2]) else { return nil }
            let rest = parts[3]
            switch parts[0] {
            case "input_blocks":
                guard i >= 1 else { return nil }
                let b = (i - 1) / per, l = (i - 1) % per
                if j == 0 && rest.hasPrefix("op.") { return "down_blocks.\(b).downsamplers.0.conv." + rest.dropFirst(3) }
                if j == 0 { return SingleFileCheckpoint.resnet(rest).map { "down_blocks.\(b).resnets.\(l).\($0)" } }
                if j == 1 { return "down_blocks.\(b).attentions.\(l).\(rest)" }
            case "output_blocks":
                let b = i / per, l = i % per
                if j == 0 { return SingleFileCheckpoint.resnet(rest).map { "up_blocks.\(b).resnets.\(l).\($0)" } }
                if rest.hasPrefix("conv.") { return "up_blocks.\(b).upsamplers.0.conv." + rest.dropFirst(5) }
                if j == 1 { return "up_blocks.\(b).attentions.\(l).\(rest)" }
            default: break
            }
            return nil
        }
    }

    /// Original VAE names to diffusers names; the decoder's `up` blocks run in reverse order.
    func vaeEntries() throws -> [String: MappedWeights.Entry] { SingleFileCheckpoint.vaeEntries(file, prefix: SingleFileCheckpoint.vaePrefix) }

    /// The same for the tensors under `prefix` of any file (`""`: a VAE file of its own, as
    /// sdxl-vae-fp16-fix's `sdxl.vae.safetensors`).
    static func vaeEntries(_ file: SafetensorsFile, prefix: String) -> [String: MappedWeights.Entry] {
        let ups = Set(file.tensors.keys.compactMap { key -> Int? in
            guard key.hasPrefix(prefix + "decoder.up.") else { return nil }
            return Int(key.dropFirst((prefix + "decoder.up.").count).split(separator: ".").first ?? "")
        })
        let count = (ups.max() ?? -1) + 1
        let attention: [(String, String)] = [("norm.", "group_norm."), ("q.", "to_q."), ("k.", "to_k."),
                                             ("v.", "to_v."), ("proj_out.", "to_out.0.")]
        return prefixed(in: file, prefix) { key in
            let parts = key.split(separator: ".").map(String.init)
            guard parts.count >= 3 else { return key }
            let side = parts[0]
            func tail(_ n: Int) -> String { parts.dropFirst(n).joined(separator: ".") }
            switch parts[1] {
            case "norm_out": return "\(side).conv_norm_out.\(tail(2))"
            case "down", "up":
                guard let i = Int(parts[2]), parts.count >= 5 else { return nil }
                let (blocks, index) = parts[1] == "down" ? ("down_blocks", i) : ("up_blocks", count - 1 - i)
                switch parts[3] {
                case "block": return "\(side).\(blocks).\(index).resnets.\(tail(4))".replacingOccurrences(of: "nin_shortcut", with: "conv_shortcut")
                case "downsample": return "\(side).\(blocks).\(index).downsamplers.0.\(tail(4))"
                case "upsample": return "\(side).\(blocks).\(index).upsamplers.0.\(tail(4))"
                default: return nil
                }
            case "mid":
                if parts[2].hasPrefix("block_"), let k = Int(parts[2].dropFirst(6)) {
                    return "\(side).mid_block.resnets.\(k - 1).\(tail(3))".replacingOccurrences(of: "nin_shortcut", with: "conv_shortcut")
                }
                if parts[2] == "attn_1" {
                    let rest = tail(3)
                    for (old, new) in attention where rest.hasPrefix(old) {
                        return "\(side).mid_block.attentions.0.\(new)\(rest.dropFirst(old.count))"
                    }
                }
                return nil
            default:
                return key
            }
        }
    }

    /// OpenCLIP (open_clip `TextTransformer`) names to transformers' CLIPTextModelWithProjection,
    /// splitting the fused `in_proj` into q/k/v and transposing `text_projection`.
    func openCLIPEntries(prefix: String) throws -> [String: MappedWeights.Entry] {
        var out: [String: MappedWeights.Entry] = [:]
        func add(_ name: String, _ key: String, _ t: WeightTransform = .identity) {
            if file.info(prefix + key) != nil { out[name] = .init(key: prefix + key, transform: t) }
        }
        add("text_model.embeddings.position_embedding.weight", "positional_embedding")
        add("text_model.embeddings.token_embedding.weight", "token_embedding.weight")
        add("text_model.final_layer_norm.weight", "ln_final.weight")
        add("text_model.final_layer_norm.bias", "ln_final.bias")
        add("text_projection.weight", "text_projection", .transpose)
        let hidden = file.info(prefix + "token_embedding.weight")?.shape.last ?? 0
        let layerPrefix = prefix + "transformer.resblocks."
        let layers = Set(file.tensors.keys.compactMap { key -> Int? in
            guard key.hasPrefix(layerPrefix) else { return nil }
            return Int(key.dropFirst(layerPrefix.count).split(separator: ".").first ?? "")
        })
        for i in layers.sorted() {
            let src = "transformer.resblocks.\(i).", dst = "text_model.encoder.layers.\(i)."
            for (old, new) in [("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"),
                               ("mlp.c_proj", "mlp.fc2"), ("attn.out_proj", "self_attn.out_proj")] {
                for p in ["weight", "bias"] { add("\(dst)\(new).\(p)", "\(src)\(old).\(p)") }
            }
            for (n, q) in ["q", "k", "v"].enumerated() {
                add("\(dst)self_attn.\(q)_proj.weight", "\(src)attn.in_proj_weight", .rows(start: n * hidden, count: hidden))
                add("\(dst)self_attn.\(q)_proj.bias", "\(src)attn.in_proj_bias", .rows(start: n * hidden, count: hidden))
            }
        }
        return out
    }
}
