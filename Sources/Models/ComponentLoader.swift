import Foundation
import ModelFiles
import Tokenizer

/// One line of `kiln inspect`: a component, its class, its dtype on disk and its size.
public struct ComponentSummary: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var className: String
    public var dtype: String
    public var parameterCount: Int

    public var description: String { "\(name) \(className) \(dtype) \(parameterCount)" }
}

/// An SDXL model on disk (a diffusers pipeline folder) from which each network is built on
/// demand, as diffusers' `DiffusionPipeline.from_pretrained` would load it.
public struct SDXLModelFiles: Sendable {
    public let path: String
    public let folder: DiffusersFolder
    public let variant: WeightVariant

    public init(path: String, variant: WeightVariant = .automatic) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError.missingFile(path: path, hint: "give a diffusers model folder")
        }
        guard isDir.boolValue else {
            throw ModelFileError.unsupportedFormat(path: path, reason: "is a file; give a diffusers model folder (containing model_index.json)")
        }
        self.path = path
        self.variant = variant
        folder = try DiffusersFolder(path: path)
    }

    /// Component names in loading order that this model has.
    public var componentNames: [String] {
        ["text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae", "scheduler"]
            .filter { folder.components[$0] != nil }
    }

    func entry(_ name: String) throws -> ComponentEntry {
        guard let e = folder.components[name] else {
            throw ModelFileError.missingComponent(folder: folder.path, component: name)
        }
        return e
    }

    func reader(_ name: String) throws -> WeightReader {
        WeightReader(source: try folder.weights(name, variant: variant), component: "\(path)/\(name)")
    }

    public func textEncoder(_ name: String) throws -> CLIPTextModel {
        let e = try entry(name)
        let projection: Bool
        switch e.className {
        case "CLIPTextModel": projection = false
        case "CLIPTextModelWithProjection": projection = true
        default:
            throw ModelFileError.invalidConfig(path: folder.path + "/model_index.json", key: name,
                                               reason: "class \(e.className) is not supported (supported: CLIPTextModel, CLIPTextModelWithProjection)")
        }
        return try CLIPTextModel(config: CLIPTextConfig(try folder.config(name)), weights: try reader(name), withProjection: projection)
    }

    public func tokenizer(_ name: String) throws -> CLIPTokenizer {
        let e = try entry(name)
        guard e.className == "CLIPTokenizer" || e.className == "CLIPTokenizerFast" else {
            throw ModelFileError.invalidConfig(path: folder.path + "/model_index.json", key: name,
                                               reason: "class \(e.className) is not supported (supported: CLIPTokenizer)")
        }
        return try CLIPTokenizer(folder: try folder.componentPath(name))
    }

    public func unet() throws -> UNet2DConditionModel {
        try requireClass("unet", "UNet2DConditionModel")
        return try UNet2DConditionModel(config: UNetConfig(try folder.config("unet")), weights: try reader("unet"))
    }

    public func vae() throws -> AutoencoderKL {
        try requireClass("vae", "AutoencoderKL")
        return try AutoencoderKL(config: VAEConfig(try folder.config("vae")), weights: try reader("vae"))
    }

    func requireClass(_ name: String, _ cls: String) throws {
        let e = try entry(name)
        guard e.className == cls else {
            throw ModelFileError.invalidConfig(path: folder.path + "/model_index.json", key: name,
                                               reason: "class \(e.className) is not supported (supported: \(cls))")
        }
    }

    /// Class, on-disk dtype and parameter count of every weighted component; also builds each
    /// network once so that any loading problem surfaces here.
    public func inspect(build: Bool = true) throws -> [ComponentSummary] {
        var out: [ComponentSummary] = []
        for name in ["text_encoder", "text_encoder_2", "unet", "vae"] where folder.components[name] != nil {
            let e = try entry(name)
            let source = try folder.weights(name, variant: variant)
            if build {
                switch name {
                case "unet": _ = try unet()
                case "vae": _ = try vae()
                default: _ = try textEncoder(name)
                }
            }
            out.append(ComponentSummary(name: name, className: e.className,
                                        dtype: source.dominantDType?.torchName ?? "empty",
                                        parameterCount: source.parameterCount))
        }
        for name in ["tokenizer", "tokenizer_2"] where folder.components[name] != nil { _ = try tokenizer(name) }
        return out
    }
}
