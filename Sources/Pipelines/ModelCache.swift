import Foundation
import Models
import Numerics

/// The models a render (or a queue worker's run of renders) needs, loaded on first use and kept
/// while they fit in `maxBytes` of parameters. With a budget below base + refiner, a stage's
/// model is loaded when the stage starts and the previous stage's model is dropped before it,
/// keeping the components both share (text_encoder_2 and the VAE, by content hash): the CPU
/// counterpart of diffusers' `enable_model_cpu_offload`.
public final class ModelCache: @unchecked Sendable {
    /// nil: no limit, keep everything loaded.
    public let maxBytes: Int?
    var models: [ModelReference: StageModel] = [:]
    var lastUse: [ModelReference: Int] = [:]
    var clock = 0
    let components = ComponentCache()
    /// The most parameter bytes held at once, by this cache's accounting (float32 weights).
    public internal(set) var peakBytes = 0
    /// Models built so far (a model with another LoRA set counts as another model).
    public private(set) var loads = 0

    /// A process that renders one request and exits (`kiln render`): once the last step is done
    /// the UNet and any ControlNets are dropped before the VAE decodes, as nothing will run them
    /// again (at 1024 px the decoder's activations then take the UNet's place instead of adding
    /// to it). A worker, which renders the next job with the same models, leaves this off.
    public var dropsSpentParts = false

    public init(maxBytes: Int? = nil) { self.maxBytes = maxBytes }

    /// Parameter bytes held now (shared components counted once).
    public var heldBytes: Int { components.heldBytes }

    /// The model at `reference`, loading it when it is not held.
    public func model(_ reference: ModelReference) throws -> StageModel {
        clock += 1
        lastUse[reference] = clock
        if let m = models[reference] { return m }
        let loaded = try StageModel(reference, shared: components)
        loads += 1
        models[reference] = loaded
        peakBytes = max(peakBytes, heldBytes)
        if let limit = maxBytes {
            while models.count > 1 && heldBytes > limit { evictLeastRecentlyUsed(except: reference) }
        }
        return loaded
    }

    /// Called between stages: with a budget too small for both models, the finished stage's
    /// model is dropped now, keeping only the components the next model shares with it.
    public func prepare(for next: ModelReference, after current: ModelReference) {
        guard let limit = maxBytes, next != current, models[next] == nil, let held = models[current] else { return }
        // The next model's size is not known before it loads; take this one's as the estimate.
        guard heldBytes + held.componentBytes.values.reduce(0, +) > limit else { return }
        let nextHashes: Set<String>
        if let files = try? next.files() {
            nextHashes = Set(files.components.map { files.componentHash($0.name) } + [next.vae?.componentKey(precision: next.precision)].compactMap { $0 })
        } else {
            nextHashes = []
        }
        models = models.filter { $0.key != current }
        lastUse[current] = nil
        components.retain(only: Set(models.values.flatMap { $0.componentBytes.keys }).union(nextHashes))
        returnFreedMemory()
    }

    /// Called after the last step of a render, before it decodes: with `dropsSpentParts`, lets go of
    /// `reference`'s UNet and of every ControlNet (a later `unet` is an error naming the model).
    func denoisingDone(with reference: ModelReference) {
        guard dropsSpentParts, let model = models[reference] else { return }
        model.dropUNet()
        let unet = model.componentHashes["unet"]
        components.forget(where: { $0 == unet || $0.hasPrefix("controlnet:") })
        returnFreedMemory()
    }

    func evictLeastRecentlyUsed(except keep: ModelReference) {
        guard let victim = models.keys.filter({ $0 != keep }).min(by: { (lastUse[$0] ?? 0) < (lastUse[$1] ?? 0) }) else { return }
        models[victim] = nil
        lastUse[victim] = nil
        components.retain(only: Set(models.values.flatMap { $0.componentBytes.keys }))
        returnFreedMemory()
    }
}
