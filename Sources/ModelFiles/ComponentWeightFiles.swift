import Foundation

/// The weight files a component loads: one safetensors file, or a shard index and its shards.
public struct ComponentWeightFiles: Sendable, Equatable {
    /// The safetensors file, or the `*.index*.json` of a sharded set.
    public let path: String
    public let sharded: Bool
    /// Whether these are the fp16 variant's files.
    public let isFP16: Bool

    /// The files read: the single file, or the index's shards (without the index itself).
    public func files() throws -> [String] {
        guard sharded else { return [path] }
        let folder = (path as NSString).deletingLastPathComponent
        return try ShardedWeights.shardNames(indexPath: path).map { (folder as NSString).appendingPathComponent($0) }
    }

    public func open() throws -> any WeightSource {
        sharded ? try ShardedWeights(indexPath: path) : try SafetensorsFile(path: path)
    }

    /// The files `variant` picks in a component folder (`stem`: `model` or `diffusion_pytorch_model`).
    public static func choose(folder: String, stem: String, variant: WeightVariant) throws -> ComponentWeightFiles {
        let fm = FileManager.default
        func at(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        let plain = (single: at("\(stem).safetensors"), index: at("\(stem).safetensors.index.json"), fp16: false)
        let half = (single: at("\(stem).fp16.safetensors"), index: at("\(stem).safetensors.index.fp16.json"), fp16: true)
        let candidates: [(single: String, index: String, fp16: Bool)]
        switch variant {
        case .plain: candidates = [plain]
        // diffusers gives a component with fp16-named files variant="fp16" (and no fallback), others None.
        case .fp16: candidates = WeightVariant.hasFP16Files(folder: folder) ? [half] : [plain]
        case .automatic: candidates = [plain, half]
        }
        // With both there, diffusers' models (ModelMixin) take the shard index, transformers' the single file.
        let indexFirst = stem == "diffusion_pytorch_model"
        for c in candidates {
            let single = ComponentWeightFiles(path: c.single, sharded: false, isFP16: c.fp16)
            let index = ComponentWeightFiles(path: c.index, sharded: true, isFP16: c.fp16)
            for option in indexFirst ? [index, single] : [single, index] where fm.fileExists(atPath: option.path) { return option }
        }
        if fm.fileExists(atPath: at("\(stem).bin")) || fm.fileExists(atPath: at("\(stem).bin.index.json")) {
            throw ModelFileError.unsupportedFormat(path: at("\(stem).bin"),
                reason: "pickled PyTorch weights are not read (they can run code); convert the folder to safetensors")
        }
        if variant == .plain, fm.fileExists(atPath: half.single) || fm.fileExists(atPath: half.index) {
            throw ModelFileError.onlyFP16Weights(folder: folder, file: (fm.fileExists(atPath: half.single) ? half.single : half.index))
        }
        let wanted = candidates.first?.fp16 == true ? half.single : plain.single
        throw ModelFileError.missingFile(path: wanted,
            hint: "no \(candidates.first?.fp16 == true ? "fp16 variant " : "")safetensors weights in \(folder)")
    }
}
