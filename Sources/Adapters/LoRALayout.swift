import Foundation
import ModelFiles

/// One low-rank pair as a file holds it: its component, the module it changes (a diffusers
/// dotted path, or kohya's underscored name), its tensors and its alpha tensor if any.
struct LoRAPair {
    let component: String
    let module: String
    let down: String
    let up: String
    let alpha: String?
    let kohya: Bool
}

/// The key layouts diffusers' `StableDiffusionXLLoraLoaderMixin.load_lora_weights` reads, told
/// apart as it tells them apart; a key it would refuse or silently drop is refused here, naming
/// the first such key in the order of the file's data (the order diffusers sees the keys in).
enum LoRALayout {
    static let kohyaPrefixes = ["lora_unet_", "lora_te1_", "lora_te2_", "lora_te_"]
    static let components = ["unet", "text_encoder", "text_encoder_2"]

    /// The file's pairs, in kohya's layout when any key is kohya's, else in diffusers'.
    static func pairs(_ file: SafetensorsFile, path: String) throws -> [LoRAPair] {
        let keys = file.tensors.values.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }.map(\.name)
        if keys.contains(where: isKohya) { return try kohya(keys, path: path) }
        return try diffusers(keys, path: path)
    }

    static func isKohya(_ key: String) -> Bool { kohyaPrefixes.contains { key.hasPrefix($0) } }

    /// kohya/A1111: `NAME.lora_down.weight`, `NAME.lora_up.weight`, `NAME.alpha`, every key
    /// under a kohya prefix, UNet names in one block numbering (diffusers' or SGM's).
    static func kohya(_ keys: [String], path: String) throws -> [LoRAPair] {
        if let other = keys.first(where: { !isKohya($0) }) {
            throw AdapterError.unreadKey(path: path, key: other, reason: "is not a kohya key (lora_unet_…, lora_te1_…, lora_te2_…) like the file's others; diffusers reads one layout per file")
        }
        let sgm = ["input_blocks", "middle_block", "output_blocks"], plain = ["down_blocks", "mid_block", "up_blocks"]
        if keys.contains(where: { k in plain.contains { k.contains($0) } }), let mixed = keys.first(where: { k in sgm.contains { k.contains($0) } }) {
            throw AdapterError.unreadKey(path: path, key: mixed, reason: "uses SGM block numbering while other keys use diffusers' (down_blocks_…); diffusers drops such keys")
        }
        for key in keys {
            switch key.drop(while: { $0 != "." }) {
            case ".lora_down.weight", ".lora_up.weight", ".alpha": continue
            case ".dora_scale": throw AdapterError.unreadKey(path: path, key: key, reason: "is a DoRA magnitude, which Kiln does not apply")
            default:
                throw AdapterError.unreadKey(path: path, key: key, reason: "is not a kohya LoRA tensor (lora_down.weight, lora_up.weight or alpha; LyCORIS LoHa/LoKr files are not read)")
            }
        }
        let present = Set(keys)
        var out: [LoRAPair] = []
        for key in keys {
            let name = String(key.prefix { $0 != "." })
            let down = name + ".lora_down.weight", up = name + ".lora_up.weight"
            guard key == down else {
                guard present.contains(down) else { throw AdapterError.unreadKey(path: path, key: key, reason: "has no \(down)") }
                continue
            }
            guard present.contains(up) else { throw AdapterError.shapeMismatch(path: path, key: key, reason: "has no \(up)") }
            let component = name.hasPrefix("lora_unet_") ? "unet" : name.hasPrefix("lora_te2_") ? "text_encoder_2" : "text_encoder"
            out.append(LoRAPair(component: component, module: name, down: key, up: up,
                                alpha: present.contains(name + ".alpha") ? name + ".alpha" : nil, kohya: true))
        }
        return out
    }

    /// diffusers: `unet.…`, `text_encoder.…`, `text_encoder_2.…` keys in PEFT's form
    /// (`lora_A`/`lora_B`) or the older ones diffusers converts (`convert_unet_state_dict_to_peft`,
    /// `convert_state_dict_to_diffusers`): UNet `lora.down`/`lora.up` and attention processors'
    /// `processor.to_q_lora.down` (`to_out_lora` is `to_out.0`); text encoders'
    /// `lora_linear_layer.down`/`up`, `self_attn.to_q_lora.down` and `text_projection.lora.down`.
    static func diffusers(_ keys: [String], path: String) throws -> [LoRAPair] {
        for key in keys {
            guard let dot = key.firstIndex(of: "."), components.contains(String(key[..<dot])) else {
                throw AdapterError.unknownModule(path: path, key: key, component: "pipeline (keys start with unet., text_encoder. or text_encoder_2.)")
            }
            guard key.contains("lora") else {
                throw AdapterError.unreadKey(path: path, key: key, reason: "has no 'lora' in its name, so diffusers refuses the file")
            }
        }
        // diffusers converts the UNet's older forms only when its first UNet key is not lora_A.
        let convertsOld = !(keys.first { $0.hasPrefix("unet.") }?.contains("lora_A") ?? false)
        let present = Set(keys)
        var out: [LoRAPair] = []
        for key in keys {
            let dot = key.firstIndex(of: ".") ?? key.endIndex
            let component = String(key[..<dot]), body = String(key[key.index(after: dot)...])
            guard let form = component == "unet" ? unetForm(body) : encoderForm(body) else {
                let forms = component == "unet" ? "lora_A/lora_B, lora.down/lora.up or processor.to_q_lora.down"
                                                : "lora_A/lora_B, lora_linear_layer.down/up, self_attn.to_q_lora.down or text_projection.lora.down"
                throw AdapterError.unreadKey(path: path, key: key, reason: "is not a \(component) LoRA form diffusers reads (\(forms))")
            }
            if component == "unet" && form.old && !convertsOld {
                throw AdapterError.unreadKey(path: path, key: key, reason: "is an older diffusers form in a file whose first UNet key is lora_A, where diffusers ignores it; write the file in one form")
            }
            let twin = component + "." + String(body.dropLast(form.suffix.count)) + form.twin
            guard present.contains(twin) else {
                throw AdapterError.shapeMismatch(path: path, key: key, reason: "has no \(twin)")
            }
            if form.isDown {
                out.append(LoRAPair(component: component, module: form.module, down: key, up: twin, alpha: nil, kohya: false))
            }
        }
        return out
    }

    struct Form {
        let module: String
        let suffix: String
        let twin: String
        let isDown: Bool
        let old: Bool
    }

    /// (down suffix, up suffix, what replaces it in the module path)
    static let unetSuffixes: [(String, String, String)] = [
        (".lora_A.weight", ".lora_B.weight", ""), (".lora.down.weight", ".lora.up.weight", ""),
        (".to_q_lora.down.weight", ".to_q_lora.up.weight", ".to_q"), (".to_k_lora.down.weight", ".to_k_lora.up.weight", ".to_k"),
        (".to_v_lora.down.weight", ".to_v_lora.up.weight", ".to_v"), (".to_out_lora.down.weight", ".to_out_lora.up.weight", ".to_out.0"),
    ]
    static let encoderSuffixes: [(String, String, String)] = [
        (".lora_A.weight", ".lora_B.weight", ""), (".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight", ""),
        (".to_q_lora.down.weight", ".to_q_lora.up.weight", ".q_proj"), (".to_k_lora.down.weight", ".to_k_lora.up.weight", ".k_proj"),
        (".to_v_lora.down.weight", ".to_v_lora.up.weight", ".v_proj"), (".to_out_lora.down.weight", ".to_out_lora.up.weight", ".out_proj"),
    ]

    static func unetForm(_ body: String) -> Form? {
        // convert_state_dict drops ".processor." from every key it converts.
        let plain = body.replacingOccurrences(of: ".processor.", with: ".")
        guard let f = form(plain, unetSuffixes) else { return nil }
        let old = body.contains(".processor.") || !(f.suffix == ".lora_A.weight" || f.suffix == ".lora_B.weight")
        return Form(module: f.module, suffix: f.suffix, twin: f.twin, isDown: f.isDown, old: old)
    }

    static func encoderForm(_ body: String) -> Form? {
        if let f = form(body, encoderSuffixes) { return f }
        if body == "text_projection.lora.down.weight" || body == "text_projection.lora.up.weight" {
            return form(body, [(".lora.down.weight", ".lora.up.weight", "")])
        }
        return nil
    }

    static func form(_ body: String, _ suffixes: [(String, String, String)]) -> Form? {
        for (down, up, replacement) in suffixes {
            for (suffix, twin, isDown) in [(down, up, true), (up, down, false)] where body.hasSuffix(suffix) {
                return Form(module: String(body.dropLast(suffix.count)) + replacement, suffix: suffix, twin: twin, isDown: isDown, old: false)
            }
        }
        return nil
    }
}
