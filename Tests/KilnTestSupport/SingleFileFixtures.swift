import Foundation
import ModelFiles
import Numerics

/// Single-file checkpoints written at test time from the committed tiny fixtures, so the
/// repository stays small.
public enum SingleFileFixtures {
    static let clipEmbedding = "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight"
    static let openCLIPEmbedding = "conditioner.embedders.1.model.token_embedding.weight"
    public static let fullVocabulary = 49408

    /// The tiny base at CLIP's full vocabulary, in two layouts holding the same weights:
    /// - `singleFile`: the original single-file layout, both token-embedding tables grown from
    ///   1000 to 49408 rows (the fixture's rows first, then fixed values), and `configs`: a
    ///   diffusers folder with the tiny model's configs and no tokenizers, so Kiln tokenizes with
    ///   its bundled CLIP vocabulary;
    /// - `folder`: a diffusers folder with the same weights and tokenizer folders holding the full
    ///   vocabulary as files (`tokenizer-full`, pads `<|endoftext|>` and `!`).
    public struct FullVocabularyModel {
        public let singleFile: String
        public let configs: String
        public let folder: String
    }

    public static func fullVocabularyModel(in dir: String) throws -> FullVocabularyModel {
        let fm = FileManager.default
        let tiny = Fixtures.model("tiny-sdxl-base")
        let model = FullVocabularyModel(singleFile: dir + "/full-vocab.safetensors", configs: dir + "/full-vocab-configs",
                                        folder: dir + "/full-vocab-folder")

        let source = try SafetensorsFile(path: Fixtures.model("tiny-sdxl-base-single-file.safetensors"))
        var tensors: [(name: String, tensor: Tensor)] = []
        for name in source.tensorNames where !name.hasSuffix("position_ids") {   // int64, and not a weight
            let t = try source.load(name)
            tensors.append((name, name == clipEmbedding || name == openCLIPEmbedding ? grown(t) : t))
        }
        try SafetensorsWriter.data(tensors).write(to: URL(fileURLWithPath: model.singleFile))

        // Configs of the tiny model at the full vocabulary, with the published special ids
        // (eos_token_id 2: pooling at the argmax of the ids, as SDXL's configs have it).
        for folder in [model.configs, model.folder] {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for sub in ["unet", "vae", "scheduler"] { try fm.copyItem(atPath: tiny + "/" + sub, toPath: folder + "/" + sub) }
            for sub in ["text_encoder", "text_encoder_2"] {
                try fm.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true)
                try editJSON(tiny + "/\(sub)/config.json", to: folder + "/\(sub)/config.json") {
                    $0["vocab_size"] = fullVocabulary; $0["bos_token_id"] = 0; $0["eos_token_id"] = 2
                }
            }
        }
        try editJSON(tiny + "/model_index.json", to: model.configs + "/model_index.json") {
            $0["tokenizer"] = nil; $0["tokenizer_2"] = nil
        }
        try fm.copyItem(atPath: tiny + "/model_index.json", toPath: model.folder + "/model_index.json")
        for sub in ["text_encoder", "text_encoder_2"] {
            let weights = try SafetensorsFile(path: tiny + "/\(sub)/model.safetensors")
            let list = try weights.tensorNames.map { name -> (name: String, tensor: Tensor) in
                let t = try weights.load(name)
                return (name, name.hasSuffix("token_embedding.weight") ? grown(t) : t)
            }
            try SafetensorsWriter.data(list).write(to: URL(fileURLWithPath: model.folder + "/\(sub)/model.safetensors"))
        }
        for (sub, pad) in [("tokenizer", "<|endoftext|>"), ("tokenizer_2", "!")] {
            let dest = model.folder + "/" + sub
            try fm.createDirectory(atPath: dest, withIntermediateDirectories: true)
            for file in ["vocab.json.gz", "merges.txt.gz"] { try fm.copyItem(atPath: Fixtures.path("tokenizer-full/" + file), toPath: dest + "/" + file) }
            let config: [String: Any] = ["pad_token": pad, "model_max_length": 77, "tokenizer_class": "CLIPTokenizer"]
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dest + "/tokenizer_config.json"))
        }
        return model
    }

    /// An inpainting single file: the base single file with the 9-channel tiny inpainting UNet's
    /// tensors under the original names (its `input_blocks.0.0.weight` has 9 input channels).
    public static func inpaintingSingleFile(at path: String) throws {
        let base = try SingleFileCheckpoint(path: Fixtures.model("tiny-sdxl-base-single-file.safetensors"))
        let unet = try DiffusersFolder(path: Fixtures.model("tiny-sdxl-inpaint")).weights("unet")
        let entries = try base.weights("unet").entries
        let unetKeys = Set(entries.values.map(\.key))
        var tensors: [(name: String, tensor: Tensor)] = []
        for name in base.file.tensorNames where !unetKeys.contains(name) && !name.hasSuffix("position_ids") {
            tensors.append((name, try base.file.load(name)))
        }
        for (name, entry) in entries { tensors.append((entry.key, try unet.load(name))) }
        try SafetensorsWriter.data(tensors).write(to: URL(fileURLWithPath: path))
    }

    /// `table` (`[1000, h]`) grown to `[49408, h]`: its rows, then small fixed values.
    static func grown(_ table: Tensor) -> Tensor {
        let rows = table.shape[0], h = table.shape[1]
        let out = Tensor(uninitialized: [fullVocabulary, h])
        out.unsafePointer.update(from: table.unsafePointer, count: rows * h)
        for i in (rows * h)..<(fullVocabulary * h) { out.unsafePointer[i] = 0.05 * sin(Float(i) * 0.618) }
        return out
    }

    static func editJSON(_ from: String, to: String, _ edit: (inout [String: Any]) -> Void) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: from))
        var object = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: URL(fileURLWithPath: to))
    }
}
