import Foundation
import ModelFiles
import Numerics
import Tokenizer

/// One line of `kiln inspect`: a component, its class, its dtype on disk and its size.
public struct ComponentSummary: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var className: String
    public var dtype: String
    public var parameterCount: Int

    public var description: String { "\(name) \(className) \(dtype) \(parameterCount)" }
}

/// An SDXL model on disk, from which each network is built on demand: a diffusers pipeline
/// folder (as `DiffusionPipeline.from_pretrained` loads it) or an original single-file
/// checkpoint (as `from_single_file` loads it, with configs and tokenizers from `configFolder`
/// or, without one, the published SDXL configs and Kiln's bundled CLIP vocabulary).
public struct SDXLModelFiles: Sendable {
    public enum Layout: Sendable {
        case folder(DiffusersFolder)
        case singleFile(SingleFileCheckpoint, configs: DiffusersFolder?)
    }

    public let path: String
    public let layout: Layout
    public let variant: WeightVariant
    /// What the networks' layers are built in (`.bf16`: weights packed to bfloat16 as they load).
    public var precision: Precision = .fp32
    /// Applied to every component's weights as they are opened (LoRAs merge here).
    public var weightTransform: (@Sendable (_ component: String, _ weights: any WeightSource) throws -> any WeightSource)?
    /// A UNet that replaces the model's own (`--unet`): its config when it brings one (else the
    /// model's) and its weights.
    public var unetOverride: UNetFile?

    public init(path: String, variant: WeightVariant = .automatic, configFolder: String? = nil) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError.missingFile(path: path, hint: "give a diffusers model folder or a single-file .safetensors checkpoint")
        }
        self.path = path
        self.variant = variant
        if isDir.boolValue {
            layout = .folder(try DiffusersFolder(path: path))
        } else {
            layout = .singleFile(try SingleFileCheckpoint(path: path), configs: try configFolder.map { try DiffusersFolder(path: $0) })
        }
    }

    /// Component name to class name, in a fixed order.
    public var components: [(name: String, className: String)] {
        switch layout {
        case .folder(let f):
            return ["text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae", "scheduler"]
                .compactMap { n in f.components[n].map { (n, $0.className) } }
        case .singleFile(let c, _):
            return c.components
        }
    }

    func className(_ name: String) throws -> String {
        guard let c = components.first(where: { $0.name == name }) else {
            throw ModelFileError.missingComponent(folder: path, component: name)
        }
        return c.className
    }

    /// The component's config.json (from the folder, the config folder, or the published SDXL config).
    public func config(_ name: String) throws -> ConfigFile {
        if name == "unet", let own = unetOverride?.config { return own }
        switch layout {
        case .folder(let f): return try f.config(name)
        case .singleFile(_, let configs?): return try configs.config(name)
        case .singleFile(let c, nil): return try PublishedConfigs.config(name, kind: c.kind)
        }
    }

    /// The weights of a component in diffusers naming.
    public func weights(_ name: String) throws -> any WeightSource {
        let source: any WeightSource
        if name == "unet", let unetOverride {
            source = unetOverride.weights(layersPerBlock: try UNetConfig(try config("unet")).layersPerBlock)
        } else {
            switch layout {
            case .folder(let f): source = try f.weights(name, variant: variant)
            case .singleFile(let c, _):
                let layers = name == "unet" ? try UNetConfig(try config("unet")).layersPerBlock : 2
                source = try c.weights(name, layersPerBlock: layers)
            }
        }
        return try weightTransform?(name, source) ?? source
    }

    func reader(_ name: String) throws -> WeightReader {
        let component = name == "unet" && unetOverride != nil ? "\(unetOverride?.path ?? path) (--unet)" : "\(path) \(name)"
        return WeightReader(source: try weights(name), component: component).with(precision: precision)
    }

    public func textEncoder(_ name: String) throws -> CLIPTextModel {
        let cls = try className(name)
        let projection: Bool
        switch cls {
        case "CLIPTextModel": projection = false
        case "CLIPTextModelWithProjection": projection = true
        default:
            throw ModelFileError.invalidConfig(path: path + "/model_index.json", key: name,
                                               reason: "class \(cls) is not supported (supported: CLIPTextModel, CLIPTextModelWithProjection)")
        }
        return try CLIPTextModel(config: CLIPTextConfig(try config(name)), weights: try reader(name), withProjection: projection)
    }

    /// The tokenizer `name` (`tokenizer` or `tokenizer_2`) from the model folder; for a single
    /// file, from the config folder when its model_index.json lists it, else (as
    /// `from_single_file` loads the Hub's SDXL tokenizers) Kiln's bundled CLIP vocabulary padded
    /// as the Hub's folders pad: `<|endoftext|>` for `tokenizer`, `!` for `tokenizer_2`.
    public func tokenizer(_ name: String) throws -> CLIPTokenizer {
        let folder: DiffusersFolder
        switch layout {
        case .folder(let f): folder = f
        case .singleFile(_, let configs?) where configs.components[name] != nil: folder = configs
        case .singleFile: return try CLIPTokenizer.bundled(padToken: try PublishedConfigs.padToken(name))
        }
        guard let e = folder.components[name] else { throw ModelFileError.missingComponent(folder: folder.path, component: name) }
        guard e.className == "CLIPTokenizer" || e.className == "CLIPTokenizerFast" else {
            throw ModelFileError.invalidConfig(path: folder.path + "/model_index.json", key: name,
                                               reason: "class \(e.className) is not supported (supported: CLIPTokenizer)")
        }
        return try CLIPTokenizer(folder: try folder.componentPath(name))
    }

    public func unet() throws -> UNet2DConditionModel {
        try requireClass("unet", "UNet2DConditionModel")
        return try UNet2DConditionModel(config: UNetConfig(try config("unet")), weights: try reader("unet"))
    }

    public func vae() throws -> AutoencoderKL {
        try requireClass("vae", "AutoencoderKL")
        return try AutoencoderKL(config: VAEConfig(try config("vae")), weights: try reader("vae"))
    }

    func requireClass(_ name: String, _ cls: String) throws {
        let found = try className(name)
        guard found == cls else {
            throw ModelFileError.invalidConfig(path: path + "/model_index.json", key: name,
                                               reason: "class \(found) is not supported (supported: \(cls))")
        }
    }

    /// Class, on-disk dtype and parameter count of every weighted component; also builds each
    /// network once so that any loading problem surfaces here.
    public func inspect(build: Bool = true) throws -> [ComponentSummary] {
        var out: [ComponentSummary] = []
        for (name, cls) in components where ["text_encoder", "text_encoder_2", "unet", "vae"].contains(name) {
            let source = try weights(name)
            if build {
                switch name {
                case "unet": _ = try unet()
                case "vae": _ = try vae()
                default: _ = try textEncoder(name)
                }
            }
            out.append(ComponentSummary(name: name, className: cls, dtype: source.dominantDType?.torchName ?? "empty",
                                        parameterCount: source.parameterCount))
        }
        // A single file lists no tokenizers: each of its text encoders has one.
        let names = components.map(\.name)
        var tokenizers = names.filter { $0.hasPrefix("tokenizer") }
        if case .singleFile = layout { tokenizers = names.filter { $0.hasPrefix("text_encoder") }.map { "tokenizer" + $0.dropFirst(12) } }
        for name in tokenizers { _ = try tokenizer(name) }
        return out
    }
}
