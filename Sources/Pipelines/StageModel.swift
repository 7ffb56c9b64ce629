import Adapters
import Foundation
import ModelFiles
import Models
import Numerics
import Schedulers
import Synchronization

/// Which model files a stage renders with: a diffusers folder or a single file (with an
/// optional config folder, as diffusers' `from_single_file(config=...)`).
public struct ModelReference: Sendable, Hashable, Codable, CustomStringConvertible {
    public var path: String
    public var config: String?
    /// A VAE that replaces the model's own (`--vae`; a model with another VAE is another model to the cache).
    public var vae: VAEReference? = nil
    /// LoRAs merged into its weights (a model with other LoRAs is another model to the cache).
    public var loras: [LoRAReference]
    /// Textual inversions added to its tokenizers and text encoders.
    public var embeddings: [EmbeddingReference]
    /// What its layers are built in (a bf16 model is another model to the cache).
    public var precision: Precision
    /// A UNet that replaces the model's own (`--unet`; a model with another UNet is another model to the cache).
    public var unet: UNetReference?
    /// Which weight files of a folder's components it loads (`--variant`; nil: `.automatic`).
    public var variant: WeightVariant?
    public init(path: String, config: String? = nil, loras: [LoRAReference] = [], embeddings: [EmbeddingReference] = [],
                precision: Precision = .fp32, unet: UNetReference? = nil) {
        self.path = path; self.config = config; self.loras = loras; self.embeddings = embeddings; self.precision = precision
        self.unet = unet
    }
    public var description: String { path }
}

/// The loaded parts of one SDXL pipeline (base, refiner-style or inpainting): what diffusers'
/// `StableDiffusionXL*Pipeline.from_pretrained` holds, minus the scheduler instance (each render
/// builds its own from `schedulerConfig`).
public final class StageModel: Sendable {
    public let reference: ModelReference
    public let files: SDXLModelFiles
    public let prompts: PromptEncoder
    /// The denoiser (an error once a one-shot render has dropped it: `dropUNet`).
    public var unet: UNet2DConditionModel {
        get throws {
            guard let u = heldUNet.withLock({ $0 }) else { throw Self.dropped(reference, "UNet") }
            return u
        }
    }
    public let unetConfig: UNetConfig
    /// The pooled text embedding's width (text_encoder_2's projection).
    public let projectionDim: Int
    /// The UNet, which a one-shot render drops before it decodes (`ModelCache.dropsSpentParts`).
    let heldUNet: Mutex<UNet2DConditionModel?>
    /// The content hashes `ComponentCache` holds this model's components under, by component name.
    let componentHashes: [String: String]
    /// The model's own AutoencoderKL, or the `--vae` that replaces it.
    public let vae: ImageAutoencoder
    public let schedulerConfig: ConfigFile
    public let defaultScheduler: SchedulerKind
    /// The content hash of all weight files (provenance).
    public let contentHash: String
    /// Component hash to parameter bytes held in memory (4 per parameter in float32, 2 in bf16),
    /// for the model cache.
    public let componentBytes: [String: Int]

    /// Loads the model's components, taking those already loaded elsewhere (same content hash)
    /// from `shared` instead of loading them again.
    public init(_ reference: ModelReference, shared: ComponentCache = ComponentCache()) throws {
        self.reference = reference
        var files = try reference.files(verifyingUNet: true)
        files.precision = reference.precision
        let adapters = try LoRAReference.open(reference.loras)
        var adapted: Set<String> = []
        if !adapters.isEmpty {
            let layers = try UNetConfig(try files.config("unet")).layersPerBlock
            let present = Set(files.components.map(\.name))
            for lora in adapters {
                for component in Set(lora.file.modules.map(\.component)) where !present.contains(component) {
                    throw RenderError.model("\(lora.file.path): this LoRA changes \(component), which \(reference.path) does not have")
                }
                adapted.formUnion(lora.file.modules.map(\.component))
            }
            files.weightTransform = { name, source in
                guard ["unet", "text_encoder", "text_encoder_2"].contains(name) else { return source }
                let merged = try LoRAWeights(base: source, component: name, loras: adapters, layersPerBlock: layers)
                return merged.isEmpty ? source : merged
            }
        }
        self.files = files
        let loraKey = reference.loras.map { "\($0.sha256)@\($0.scale)" }.joined(separator: ",")
        var bytes: [String: Int] = [:], hashes: [String: String] = [:]
        func load<T: Sendable>(_ name: String, _ build: () throws -> T) throws -> T {
            let hash = files.componentHash(name) + (adapted.contains(name) ? "+lora:" + loraKey : "")
                + (reference.precision == .fp32 ? "" : "@" + reference.precision.rawValue)
            let size = (try? files.weights(name).parameterCount).map { $0 * (reference.precision == .bf16 ? 2 : 4) } ?? 0
            bytes[hash] = size
            hashes[name] = hash
            return try shared.component(hash, bytes: size, build)
        }
        var pairs: [PromptEncoder.Pair] = []
        let names = Set(files.components.map(\.name))
        if names.contains("text_encoder") {
            pairs.append(.init(tokenizer: try files.tokenizer("tokenizer"),
                               encoder: try load("text_encoder") { try files.textEncoder("text_encoder") }))
        }
        pairs.append(.init(tokenizer: try files.tokenizer("tokenizer_2"),
                           encoder: try load("text_encoder_2") { try files.textEncoder("text_encoder_2") }))
        let force: Bool
        if case .folder(let folder) = files.layout {
            force = try folder.options.bool("force_zeros_for_empty_prompt", default: true)
        } else {
            force = true
        }
        prompts = PromptEncoder(pairs: try PromptEncoder.adding(reference.embeddings, to: pairs), forceZerosForEmptyPrompt: force)
        let unet = try load("unet") { try files.unet() }
        heldUNet = Mutex(unet)
        unetConfig = unet.config
        projectionDim = pairs[pairs.count - 1].encoder.config.projectionDim
        if let replacement = reference.vae {
            let given = try replacement.verified()
            let key = replacement.componentKey(precision: reference.precision)
            let size = given.weights.parameterCount * (reference.precision == .bf16 ? 2 : 4)
            bytes[key] = size
            hashes["vae"] = key
            vae = try shared.component(key, bytes: size) { try given.autoencoder(pipelineConfig: try files.config("vae"), precision: reference.precision) }
        } else {
            vae = .kl(try load("vae") { try files.vae() })
        }
        schedulerConfig = try files.config("scheduler")
        defaultScheduler = SchedulerKind(modelClass: try? schedulerConfig.string("_class_name"))
        contentHash = files.contentHash()
        componentBytes = bytes
        componentHashes = hashes
        let ids = timeIDCount
        guard ids == 5 || ids == 6 else {
            throw RenderError.model("\(reference.path): this UNet takes \(ids) micro-conditioning values; SDXL models take 6 (base) or 5 (refiner)")
        }
        guard [4, 9].contains(unetConfig.inChannels) else {
            throw RenderError.model("\(reference.path): a UNet with \(unetConfig.inChannels) input channels is not an SDXL model (4, or 9 for inpainting)")
        }
    }

    /// 6 for base-style models (sizes and crop), 5 for refiner-style (aesthetic score).
    public var timeIDCount: Int { unetConfig.timeIDCount(pooledDim: projectionDim) }
    public var usesAestheticScore: Bool { timeIDCount == 5 }
    public var isInpaintingModel: Bool { unetConfig.inChannels == 9 }
    public var vaeScale: Int { vae.downscaleFactor }
    public var defaultSize: PixelSize { PixelSize(width: unetConfig.sampleSize * vaeScale, height: unetConfig.sampleSize * vaeScale) }
    /// Width of the cross-attention input: the concatenated text encoder hidden sizes.
    public var crossAttentionDim: Int { unetConfig.crossAttentionDim }

    /// The scheduler config as JSON text, for provenance.
    public var schedulerConfigJSON: String { StageModel.json(schedulerConfig) }

    static func json(_ config: ConfigFile) -> String {
        func plain(_ v: any Sendable) -> Any {
            if let a = v as? [any Sendable] { return a.map(plain) }
            if let d = v as? [String: any Sendable] { return d.mapValues(plain) }
            if v is String || v is Double || v is Bool { return v }
            return NSNull()
        }
        let object = config.values.mapValues(plain)
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

extension StageModel {
    static func dropped(_ reference: ModelReference, _ part: String) -> RenderError {
        .model("\(reference.path): its \(part) was dropped after use by this one-shot render and cannot run again")
    }

    /// Lets go of the UNet; `unet` is an error afterwards.
    func dropUNet() { heldUNet.withLock { $0 = nil } }
}

/// Loaded components by content hash, so that two models holding the same weights for a
/// component (the refiner's text_encoder_2 and VAE are usually the base's) share one copy.
public final class ComponentCache: Sendable {
    private let components = Mutex<[String: (value: any Sendable, bytes: Int)]>([:])

    public init() {}

    /// The component stored under `hash`, built (under the lock, so once) when absent.
    func component<T: Sendable>(_ hash: String, bytes: Int, _ build: () throws -> T) throws -> T {
        try components.withLock { components in
            if let c = components[hash]?.value as? T { return c }
            let c = try build()
            components[hash] = (c, bytes)
            return c
        }
    }

    /// Parameter bytes of the components held.
    public var heldBytes: Int { components.withLock { $0.values.reduce(0) { $0 + $1.bytes } } }

    /// Forgets the components whose hashes match `drop`.
    func forget(where drop: (String) -> Bool) {
        components.withLock { $0 = $0.filter { !drop($0.key) } }
    }

    /// Forgets the components whose hashes are not in `keep`.
    func retain(only keep: Set<String>) { forget(where: { !keep.contains($0) }) }
}
