import Foundation

/// Which weight files of a component to read: the plain ones only, the `fp16` variant
/// (`*.fp16.safetensors`; like diffusers' `variant="fp16"`, plain files where a component has
/// no variant), or whichever is present, plain first.
public enum WeightVariant: String, Sendable, CaseIterable {
    case automatic = "auto"
    case plain = "none"
    case fp16 = "fp16"
}

/// A component entry of `model_index.json`: `["diffusers", "UNet2DConditionModel"]`.
public struct ComponentEntry: Sendable, Equatable {
    public let library: String
    public let className: String
}

/// A diffusers pipeline folder as `save_pretrained` writes it: `model_index.json` naming the
/// components, one folder per component with its `config.json` and weights.
public struct DiffusersFolder: Sendable {
    public let path: String
    public let pipelineClass: String
    /// Components present in `model_index.json` (null entries left out).
    public let components: [String: ComponentEntry]
    /// Pipeline-level options such as `force_zeros_for_empty_prompt`, `requires_aesthetics_score`.
    public let options: ConfigFile

    public init(path: String) throws {
        self.path = path
        let indexPath = (path as NSString).appendingPathComponent("model_index.json")
        guard FileManager.default.fileExists(atPath: indexPath) else {
            throw ModelFileError.missingFile(path: indexPath, hint: "a diffusers model folder must contain model_index.json")
        }
        let index = try ConfigFile(path: indexPath)
        pipelineClass = try index.string("_class_name")
        var comps: [String: ComponentEntry] = [:]
        for (key, value) in index.values where !key.hasPrefix("_") {
            guard let pair = value as? [any Sendable], pair.count == 2 else { continue }
            guard let lib = pair[0] as? String, let cls = pair[1] as? String else { continue }
            comps[key] = ComponentEntry(library: lib, className: cls)
        }
        components = comps
        options = index
    }

    /// The folder of a component, checked to exist.
    public func componentPath(_ name: String) throws -> String {
        let p = (path as NSString).appendingPathComponent(name)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue else {
            throw ModelFileError.missingComponent(folder: path, component: name)
        }
        return p
    }

    /// The component's config: `config.json`, or `scheduler_config.json` for the scheduler.
    public func config(_ component: String) throws -> ConfigFile {
        let name = component == "scheduler" ? "scheduler_config.json" : "config.json"
        return try ConfigFile(path: (try componentPath(component) as NSString).appendingPathComponent(name))
    }

    /// Opens the weights of a component: `diffusion_pytorch_model*` for diffusers models,
    /// `model*` for transformers models; single or sharded; plain or fp16 variant.
    public func weights(_ component: String, variant: WeightVariant = .automatic) throws -> any WeightSource {
        let folder = try componentPath(component)
        let stem = components[component]?.library == "transformers" ? "model" : "diffusion_pytorch_model"
        return try DiffusersFolder.openWeights(folder: folder, stem: stem, variant: variant)
    }

    public static func openWeights(folder: String, stem: String, variant: WeightVariant) throws -> any WeightSource {
        let fm = FileManager.default
        func at(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        let plainSingle = at("\(stem).safetensors"), plainIndex = at("\(stem).safetensors.index.json")
        let fp16Single = at("\(stem).fp16.safetensors"), fp16Index = at("\(stem).safetensors.index.fp16.json")
        var candidates: [(single: String, index: String)] = []
        switch variant {
        case .plain: candidates = [(plainSingle, plainIndex)]
        // Like diffusers' variant="fp16": components without the variant load their plain weights.
        case .fp16: candidates = [(fp16Single, fp16Index), (plainSingle, plainIndex)]
        case .automatic: candidates = [(plainSingle, plainIndex), (fp16Single, fp16Index)]
        }
        for c in candidates {
            if fm.fileExists(atPath: c.single) { return try SafetensorsFile(path: c.single) }
            if fm.fileExists(atPath: c.index) { return try ShardedWeights(indexPath: c.index) }
        }
        if fm.fileExists(atPath: at("\(stem).bin")) || fm.fileExists(atPath: at("\(stem).bin.index.json")) {
            throw ModelFileError.unsupportedFormat(path: at("\(stem).bin"),
                reason: "pickled PyTorch weights are not read (they can run code); convert the folder to safetensors")
        }
        let wanted = variant == .fp16 ? "\(stem).fp16.safetensors" : "\(stem).safetensors"
        throw ModelFileError.missingFile(path: at(wanted),
            hint: "no \(variant == .fp16 ? "fp16 variant " : "")safetensors weights in \(folder)")
    }
}
