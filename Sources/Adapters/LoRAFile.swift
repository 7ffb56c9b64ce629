import Foundation
import ModelFiles
import Numerics

/// One module a LoRA changes: `W' = W + scale * (alpha / rank) * (up @ down)`, with `down`
/// `[rank, in(, kh, kw)]` and `up` `[out, rank(, 1, 1)]` (peft's lora_A/lora_B, kohya's
/// lora_down/lora_up; convolutions are kohya's LoCon).
public struct LoRAModule: Sendable {
    /// "unet", "text_encoder" or "text_encoder_2".
    public let component: String
    /// The module: a diffusers dotted path (older forms normalised), or kohya's underscored name.
    public let name: String
    public let key: String
    let down: String
    let up: String
    /// alpha / rank.
    public let factor: Float
    public let kohya: Bool
}

/// A LoRA file in one of the layouts diffusers' `load_lora_weights` reads for SDXL
/// (`LoRALayout`): diffusers/PEFT (`unet.<module>.lora_A.weight`, `text_encoder.…`,
/// `text_encoder_2.…`, alphas from the `lora_adapter_metadata` diffusers writes), diffusers'
/// older `lora.down`/`to_q_lora`/`lora_linear_layer` forms, or kohya's (`lora_unet_…`,
/// `lora_te1_…`, `lora_te2_…` with `lora_down`/`lora_up`/`alpha`, diffusers or SGM block names).
public final class LoRAFile: Sendable {
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
        guard names.contains(where: { $0.contains("lora") }) else {
            throw AdapterError.notLoRA(path: path, reason: "no lora_A/lora_B or lora_down/lora_up pairs")
        }
        modules = try LoRAFile.modules(LoRALayout.pairs(file, path: path), file: file, path: path)
        guard !modules.isEmpty else { throw AdapterError.notLoRA(path: path, reason: "no lora_A/lora_B or lora_down/lora_up pairs") }
    }

    /// Each pair with its alpha / rank: kohya's `alpha` tensor, else diffusers' adapter metadata
    /// (`{"unet.lora_alpha": 8, "unet.alpha_pattern": {...}}`), else the rank (a factor of 1).
    static func modules(_ pairs: [LoRAPair], file: SafetensorsFile, path: String) throws -> [LoRAModule] {
        var config: [String: Any] = [:]
        if let text = file.metadata["lora_adapter_metadata"], let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
            config = object
        }
        return try pairs.map { pair in
            let rank = try LoRAFile.rank(file, down: pair.down, path: path)
            var alpha = Float(rank)
            if let key = pair.alpha {
                let a = try file.load(key)
                guard a.count == 1, a[flat: 0].isFinite else { throw AdapterError.shapeMismatch(path: path, key: key, reason: "is not one finite number") }
                alpha = a[flat: 0]
            } else if !pair.kohya, let a = LoRAFile.number(config["\(pair.component).lora_alpha"]) {
                let pattern = (config["\(pair.component).alpha_pattern"] as? [String: Any]) ?? [:]
                alpha = pattern.first(where: { pair.module == $0.key || pair.module.hasSuffix("." + $0.key) }).flatMap { LoRAFile.number($0.value) } ?? a
            }
            guard alpha.isFinite else { throw AdapterError.shapeMismatch(path: path, key: pair.down, reason: "alpha is not finite") }
            return LoRAModule(component: pair.component, name: pair.module, key: pair.down, down: pair.down, up: pair.up,
                              factor: alpha / Float(rank), kohya: pair.kohya)
        }
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
