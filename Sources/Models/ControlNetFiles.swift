import Foundation
import ModelFiles
import Numerics

/// A ControlNet on disk: a folder as diffusers saves one (`ControlNetModel.save_pretrained`:
/// `config.json` and `diffusion_pytorch_model[.fp16].safetensors`, single or sharded), or one
/// `.safetensors` file in diffusers' or the original layout (`ControlNetSingleFile`), whose config
/// is made from its tensor shapes and the base UNet's config. The config is read and checked when
/// it is opened; the weights only by `load()`. Pickled files are refused with the command that
/// converts them.
public struct ControlNetFiles: Sendable {
    public enum Layout: String, Sendable { case folder, diffusers, original }

    public let path: String
    public let config: ControlNetConfig
    public let variant: WeightVariant
    public let layout: Layout
    /// What the layers are built in (`.bf16`: weights packed to bfloat16 as they load).
    public var precision: Precision = .fp32
    /// A single file's tensors under diffusers' names; nil for a folder (opened by `weights()`).
    let single: (any WeightSource)?

    /// - Parameter base: the config of the UNet the ControlNet feeds, from which a single file
    ///   takes what its shapes do not tell (default: the published SDXL base UNet's). A folder
    ///   brings its own config.
    public init(path: String, variant: WeightVariant = .automatic, base: UNetConfig? = nil) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError.missingFile(path: path, hint: ControlNetSingleFile.hint)
        }
        self.path = path
        self.variant = variant
        guard isDir.boolValue else {
            try UNetFile.refusePickle(path)
            let weights = try ControlNetSingleFile.weights(try ControlNetSingleFile.open(path))
            let base = try base ?? UNetConfig(try PublishedConfigs.baseUNetConfig())
            config = try ControlNetConfig(shapes: weights, path: path, base: base)
            layout = weights is MappedWeights ? .original : .diffusers
            single = weights
            return
        }
        let hint = "give a diffusers ControlNet folder (config.json and diffusion_pytorch_model.safetensors) or one ControlNet .safetensors file"
        let configPath = (path as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configPath) else { throw ModelFileError.missingFile(path: configPath, hint: hint) }
        config = try ControlNetConfig(try ConfigFile(path: configPath))
        layout = .folder
        single = nil
    }

    /// The weights in diffusers naming.
    public func weights() throws -> any WeightSource {
        if let single { return single }
        return try DiffusersFolder.openWeights(folder: path, stem: "diffusion_pytorch_model", variant: variant)
    }

    /// A short content hash of its config and weight files (as `SDXLModelFiles.componentHash`), or of the single file.
    public var contentHash: String { Self.contentHash(path: path) }

    /// The content hash of the ControlNet at `path` (folder or file), without opening it.
    public static func contentHash(path: String) -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            return SDXLModelFiles.hash(files: [path])
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
            .filter { $0.hasSuffix(".safetensors") || $0 == "config.json" || $0.hasSuffix(".index.json") }
        return SDXLModelFiles.hash(files: names.map { (path as NSString).appendingPathComponent($0) })
    }

    public func load() throws -> ControlNetModel {
        try ControlNetModel(config: config, weights: WeightReader(source: try weights(), component: "\(path) controlnet")
            .with(precision: precision))
    }
}
