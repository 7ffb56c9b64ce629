import Foundation

/// Finds the weight a LoRA module changes among a component's weight names: diffusers' dotted
/// module paths (with or without transformers' `text_model.` prefix), and kohya's underscored
/// names in diffusers or original Stability ("SGM") block numbering, mapped as diffusers'
/// `_maybe_map_sgm_blocks_to_diffusers` and `_convert_unet_lora_key` do.
struct ModuleNames {
    /// Module path (weight name without ".weight") by every form a file may use.
    var byName: [String: String] = [:]
    let layersPerBlock: Int

    init(weightNames: [String], layersPerBlock: Int) {
        self.layersPerBlock = layersPerBlock
        for name in weightNames where name.hasSuffix(".weight") {
            let module = String(name.dropLast(".weight".count))
            var forms = [module]
            if module.hasPrefix("text_model.") { forms.append(String(module.dropFirst("text_model.".count))) }
            else { forms.append("text_model." + module) }
            for f in forms {
                byName[f] = module
                byName[f.replacingOccurrences(of: ".", with: "_")] = module
            }
        }
    }

    /// The module `lora` changes, or nil.
    func module(for lora: LoRAModule) -> String? {
        guard lora.kohya else { return byName[lora.name] }
        for prefix in ["lora_unet_", "lora_te1_", "lora_te2_", "lora_te_"] where lora.name.hasPrefix(prefix) {
            let body = String(lora.name.dropFirst(prefix.count))
            if let m = byName[body] { return m }
            return prefix == "lora_unet_" ? byName[diffusersUnderscored(sgm: body)] : nil
        }
        return nil
    }

    /// A kohya UNet name in SGM numbering (`input_blocks_4_1_…`) in diffusers' underscored form.
    func diffusersUnderscored(sgm body: String) -> String {
        let per = layersPerBlock + 1
        var parts = body.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        let fixed: [(String, String)] = [
            ("time_embed_0", "time_embedding_linear_1"), ("time_embed_2", "time_embedding_linear_2"),
            ("label_emb_0_0", "add_embedding_linear_1"), ("label_emb_0_2", "add_embedding_linear_2"),
            ("input_blocks_0_0", "conv_in"), ("out_2", "conv_out"), ("out_0", "conv_norm_out"),
        ]
        for (old, new) in fixed where body == old || body.hasPrefix(old + "_") { return new + body.dropFirst(old.count) }
        var head: [String] = []
        if parts.count >= 3, parts[0] == "middle", parts[1] == "block", let j = Int(parts[2]) {
            head = j == 1 ? ["mid", "block", "attentions", "0"] : ["mid", "block", "resnets", String(j / 2)]
            parts = Array(parts.dropFirst(3))
        } else if parts.count >= 4, parts[1] == "blocks", let i = Int(parts[2]), let inner = Int(parts[3]), ["input", "output"].contains(parts[0]) {
            let rest = Array(parts.dropFirst(4))
            let isInput = parts[0] == "input"
            let b = isInput ? (i - 1) / per : i / per, l = isInput ? (i - 1) % per : i % per
            let kind: String
            if isInput && rest.first == "op" { kind = "downsamplers" }
            else if !isInput && rest.first == "conv" && inner > 0 { kind = "upsamplers" }
            else { kind = ["resnets", "attentions", "upsamplers"][min(inner, 2)] }
            let index = kind == "downsamplers" || kind == "upsamplers" ? 0 : l
            head = [isInput ? "down" : "up", "blocks", String(b), kind, String(index)]
            parts = rest
        } else {
            return body
        }
        var tail = parts.joined(separator: "_")
        for (old, new) in [("in_layers_2", "conv1"), ("out_layers_3", "conv2"), ("emb_layers_1", "time_emb_proj"),
                           ("skip_connection", "conv_shortcut"), ("in_layers_0", "norm1"), ("out_layers_0", "norm2")]
        where tail == old || tail.hasPrefix(old + "_") {
            tail = new + tail.dropFirst(old.count)
        }
        if tail == "op" { tail = "conv" }
        return (head + [tail]).joined(separator: "_")
    }
}
