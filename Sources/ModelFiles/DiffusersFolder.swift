import Foundation

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
    /// `model*` for transformers models; single or sharded; plain or fp16 variant as `variant` picks.
    public func weights(_ component: String, variant: WeightVariant = .automatic) throws -> any WeightSource {
        try weightFiles(component, variant: variant).open()
    }

    /// The weight files `variant` picks for a component, checked for the folder as a whole first
    /// (`checkVariant`), without opening them.
    public func weightFiles(_ component: String, variant: WeightVariant = .automatic) throws -> ComponentWeightFiles {
        try checkVariant(variant)
        let folder = try componentPath(component)
        let stem = components[component]?.library == "transformers" ? "model" : "diffusion_pytorch_model"
        return try ComponentWeightFiles.choose(folder: folder, stem: stem, variant: variant)
    }

    /// Refuses `fp16` for a folder where no component has fp16-named files, as diffusers'
    /// `from_pretrained(variant="fp16")` does (it counts every folder model_index.json names).
    public func checkVariant(_ variant: WeightVariant) throws {
        guard variant == .fp16 else { return }
        let named = options.values.keys.filter { !$0.hasPrefix("_") }
        guard named.contains(where: { WeightVariant.hasFP16Files(folder: (path as NSString).appendingPathComponent($0)) }) else {
            throw ModelFileError.noFP16Variant(folder: path)
        }
    }

    /// The weights of a component folder (a pipeline's, or a ControlNet, VAE or UNet folder)
    /// as `variant` picks them.
    public static func openWeights(folder: String, stem: String, variant: WeightVariant) throws -> any WeightSource {
        try ComponentWeightFiles.choose(folder: folder, stem: stem, variant: variant).open()
    }
}
