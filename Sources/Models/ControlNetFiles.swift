import Foundation
import ModelFiles
import Numerics

/// A ControlNet on disk as diffusers saves one (`ControlNetModel.save_pretrained`): a folder with
/// `config.json` and `diffusion_pytorch_model[.fp16].safetensors` (single or sharded). The config
/// is read and checked when it is opened; the weights only by `load()`.
public struct ControlNetFiles: Sendable {
    public let path: String
    public let config: ControlNetConfig
    public let variant: WeightVariant
    /// What the layers are built in (`.bf16`: weights packed to bfloat16 as they load).
    public var precision: Precision = .fp32

    public init(path: String, variant: WeightVariant = .automatic) throws {
        var isDir: ObjCBool = false
        let hint = "give a diffusers ControlNet folder (config.json and diffusion_pytorch_model.safetensors)"
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError.missingFile(path: path, hint: hint)
        }
        guard isDir.boolValue else { throw ModelFileError.unsupportedFormat(path: path, reason: "is a file; \(hint)") }
        let configPath = (path as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configPath) else { throw ModelFileError.missingFile(path: configPath, hint: hint) }
        self.path = path
        self.variant = variant
        config = try ControlNetConfig(try ConfigFile(path: configPath))
    }

    /// The weights in diffusers naming.
    public func weights() throws -> any WeightSource {
        try DiffusersFolder.openWeights(folder: path, stem: "diffusion_pytorch_model", variant: variant)
    }

    /// A short content hash of its config and weight files (as `SDXLModelFiles.componentHash`).
    public var contentHash: String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
            .filter { $0.hasSuffix(".safetensors") || $0 == "config.json" || $0.hasSuffix(".index.json") }
        return SDXLModelFiles.hash(files: names.map { (path as NSString).appendingPathComponent($0) })
    }

    public func load() throws -> ControlNetModel {
        try ControlNetModel(config: config, weights: WeightReader(source: try weights(), component: "\(path) controlnet")
            .with(precision: precision))
    }
}
