import Foundation
import ModelFiles
import Numerics

/// One module a LoRA changes: `W' = W + scale * (alpha / rank) * (up @ down)`, with `down`
/// `[rank, in(, kh, kw)]` and `up` `[out, rank(, 1, 1)]` (peft's lora_A/lora_B, kohya's
/// lora_down/lora_up; convolutions are kohya's LoCon).
public struct LoRAModule: Sendable {
    /// "unet", "text_encoder" or "text_encoder_2".
    public let component: String
    /// The module as the file names it (diffusers dotted path, or kohya's underscored one).
    public let name: String
    public let key: String
    let down: String
    let up: String
    /// alpha / rank.
    public let factor: Float
    public let kohya: Bool
}

/// A LoRA file in diffusers/PEFT layout (`unet.<module>.lora_A.weight`, `text_encoder.…`,
/// `text_encoder_2.…`, alphas from the `lora_adapter_metadata` diffusers writes) or kohya's
/// (`lora_unet_…`, `lora_te1_…`, `lora_te2_…` with `lora_down`/`lora_up`/`alpha`), read as
/// diffusers' `load_lora_weights` and `_convert_non_diffusers_lora_to_diffusers` read them.
public final class LoRAFile: @unchecked Sendable {
    public let path: String
    public let modules: [LoRAModule]
    let file: SafetensorsFile

    public init(path: String) throws {
        self.path = path
        file = try SafetensorsFile(path: path)
        let names = file.tensorNames
        if names.contains(where: { $0.hasPrefix("lora_te_") }) && !names.contains(where: { $0.hasPrefix("lora_te2_") }) {
            throw AdapterError.otherModel(path: path, reason: "this LoRA is for Stable Diffusion 1.x/2.x (one text encoder, keys lora_te_…; SDXL's are lora_te1_… and lora_te2_…)")
        }
        // SD 1.x/2.x UNets have attentions in their first down block, SDXL's do not.
        if names.contains(where: { $0.hasPrefix("unet.down_blocks.0.attentions.") || $0.hasPrefix("lora_unet_down_blocks_0_attentions_")
                                    || $0.hasPrefix("lora_unet_input_blocks_1_1_") }) {
            throw AdapterError.otherModel(path: path, reason: "this LoRA is for Stable Diffusion 1.x/2.x (it changes attention layers of the first down block, which SDXL's UNet does not have)")
        }
        if names.contains(where: { $0.hasPrefix("lora_unet_") || $0.hasPrefix("lora_te") }) {
            modules = try LoRAFile.kohyaModules(file, path: path)
        } else {
            modules = try LoRAFile.peftModules(file, path: path)
        }
        guard !modules.isEmpty else { throw AdapterError.notLoRA(path: path, reason: "no lora_A/lora_B or lora_down/lora_up pairs") }
    }

    static func kohyaModules(_ file: SafetensorsFile, path: String) throws -> [LoRAModule] {
        var out: [LoRAModule] = []
        for key in file.tensorNames where key.hasSuffix(".lora_down.weight") {
            let name = String(key.dropLast(".lora_down.weight".count))
            let component: String
            if name.hasPrefix("lora_unet_") { component = "unet" }
            else if name.hasPrefix("lora_te1_") || name.hasPrefix("lora_te_") { component = "text_encoder" }
            else if name.hasPrefix("lora_te2_") { component = "text_encoder_2" }
            else { throw AdapterError.unknownModule(path: path, key: key, component: "unet or text encoders") }
            let up = name + ".lora_up.weight"
            guard file.info(up) != nil else { throw AdapterError.shapeMismatch(path: path, key: key, reason: "has no \(up)") }
            let rank = try LoRAFile.rank(file, down: key, path: path)
            var alpha = Float(rank)
            if file.info(name + ".alpha") != nil {
                let a = try file.load(name + ".alpha")
                guard a.count == 1, a[flat: 0].isFinite else { throw AdapterError.shapeMismatch(path: path, key: name + ".alpha", reason: "is not one finite number") }
                alpha = a[flat: 0]
            }
            out.append(LoRAModule(component: component, name: name, key: key, down: key, up: up, factor: alpha / Float(rank), kohya: true))
        }
        return out
    }

    static func peftModules(_ file: SafetensorsFile, path: String) throws -> [LoRAModule] {
        // diffusers writes {"unet.lora_alpha": 8, "unet.r": 4, ...} as JSON in the metadata.
        var config: [String: Any] = [:]
        if let text = file.metadata["lora_adapter_metadata"], let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
            config = object
        }
        let pairs: [(down: String, up: String)] = [(".lora_A.weight", ".lora_B.weight"), (".lora.down.weight", ".lora.up.weight"),
                                                   (".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight")]
        var out: [LoRAModule] = []
        for key in file.tensorNames {
            guard let pair = pairs.first(where: { key.hasSuffix($0.down) }) else { continue }
            let name = String(key.dropLast(pair.down.count))
            guard let dot = name.firstIndex(of: "."), ["unet", "text_encoder", "text_encoder_2"].contains(String(name[..<dot])) else {
                throw AdapterError.unknownModule(path: path, key: key, component: "pipeline (keys start with unet., text_encoder. or text_encoder_2.)")
            }
            let component = String(name[..<dot])
            let module = String(name[name.index(after: dot)...])
            let up = name + pair.up
            guard file.info(up) != nil else { throw AdapterError.shapeMismatch(path: path, key: key, reason: "has no \(up)") }
            let rank = try LoRAFile.rank(file, down: key, path: path)
            var alpha = Float(rank)
            if file.info(name + ".alpha") != nil {
                alpha = try file.load(name + ".alpha")[flat: 0]
            } else if let a = LoRAFile.number(config["\(component).lora_alpha"]) {
                let pattern = (config["\(component).alpha_pattern"] as? [String: Any]) ?? [:]
                alpha = pattern.first(where: { module == $0.key || module.hasSuffix("." + $0.key) }).flatMap { LoRAFile.number($0.value) } ?? a
            }
            guard alpha.isFinite else { throw AdapterError.shapeMismatch(path: path, key: key, reason: "alpha is not finite") }
            out.append(LoRAModule(component: component, name: module, key: key, down: key, up: up, factor: alpha / Float(rank), kohya: false))
        }
        return out
    }

    static func number(_ v: Any?) -> Float? { (v as? NSNumber).map { Float(truncating: $0) } }

    static func rank(_ file: SafetensorsFile, down: String, path: String) throws -> Int {
        guard let info = file.info(down), info.shape.count == 2 || info.shape.count == 4, let r = info.shape.first, r >= 1, r <= 4096 else {
            throw AdapterError.shapeMismatch(path: path, key: down, reason: "is not a [rank, in] or [rank, in, kh, kw] matrix with rank 1...4096")
        }
        return r
    }

    /// `up @ down` of `module` reshaped to `shape` (the weight's), times `scale * alpha / rank`.
    func delta(_ module: LoRAModule, weightShape shape: [Int], scale: Float) throws -> Tensor {
        let down = try file.load(module.down), up = try file.load(module.up)
        let rank = down.shape[0], inner = down.count / rank
        let outputs = shape.first ?? 0, fanIn = shape.dropFirst().reduce(1, *)
        guard up.rank >= 2, up.shape[0] == outputs, up.count == outputs * rank, inner == fanIn else {
            throw AdapterError.shapeMismatch(path: path, key: module.key,
                                             reason: "down \(down.shape) and up \(up.shape) do not make the module's weight \(shape) (wrong rank, or made for another model)")
        }
        let out = Tensor(uninitialized: shape)
        up.withUnsafeBufferPointer { u in
            down.withUnsafeBufferPointer { d in
                guard let ub = u.baseAddress, let db = d.baseAddress else { return }
                gemm(m: outputs, n: fanIn, k: rank, a: ub, lda: rank, b: db, ldb: fanIn, c: out.unsafePointer, ldc: fanIn,
                     alpha: scale * module.factor)
            }
        }
        return out
    }

    /// SHA-256 of the tensor data after the header, the "addnet" hash image tools show for
    /// LoRA files (A1111's `Lora hashes`), as 12 hex digits.
    public static func shortHash(data: Data) -> String {
        guard data.count >= 8 else { return String(SHA256.hex(data).prefix(12)) }
        let length = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length < UInt64(data.count - 8) else { return String(SHA256.hex(data).prefix(12)) }
        return String(SHA256.hex(data.suffix(from: data.startIndex + 8 + Int(length))).prefix(12))
    }
}
