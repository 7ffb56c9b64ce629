import Foundation
import Models
import Numerics
import Synchronization

/// The models a render (or a queue worker's run of renders) needs, loaded on first use and kept
/// while they fit in `maxBytes` of parameters. With a budget below base + refiner, a stage's
/// model is loaded when the stage starts and the previous stage's model is dropped before it,
/// keeping the components both share (text_encoder_2 and the VAE, by content hash): the CPU
/// counterpart of diffusers' `enable_model_cpu_offload`.
public final class ModelCache: Sendable {
    /// nil: no limit, keep everything loaded.
    public let maxBytes: Int?
    let components = ComponentCache()
    /// What the cache holds and has counted, behind one lock (held through a model's load, so a
    /// reader of the counts on another thread waits for the load).
    private let state = Mutex(State())

    struct State {
        var models: [ModelReference: StageModel] = [:]
        var lastUse: [ModelReference: Int] = [:]
        var clock = 0
        var peakBytes = 0
        var loads = 0
        var dropsSpentParts = false
    }

    /// The most parameter bytes held at once, by this cache's accounting (float32 weights).
    public var peakBytes: Int { state.withLock { $0.peakBytes } }
    /// Models built so far (a model with another LoRA set counts as another model).
    public var loads: Int { state.withLock { $0.loads } }

    /// A process that renders one request and exits (`kiln render`): once the last step is done
    /// the UNet and any ControlNets are dropped before the VAE decodes, as nothing will run them
    /// again (at 1024 px the decoder's activations then take the UNet's place instead of adding
    /// to it). A worker, which renders the next job with the same models, leaves this off.
    public var dropsSpentParts: Bool {
        get { state.withLock { $0.dropsSpentParts } }
        set { state.withLock { $0.dropsSpentParts = newValue } }
    }

    public init(maxBytes: Int? = nil) { self.maxBytes = maxBytes }

    /// Parameter bytes held now (shared components counted once).
    public var heldBytes: Int { components.heldBytes }

    /// The model at `reference`, loading it when it is not held (under the lock: one load at a time).
    public func model(_ reference: ModelReference) throws -> StageModel {
        try state.withLock { s throws -> StageModel in
            s.clock += 1
            s.lastUse[reference] = s.clock
            if let m = s.models[reference] { return m }
            let loaded = try StageModel(reference, shared: components)
            s.loads += 1
            s.models[reference] = loaded
            s.peakBytes = max(s.peakBytes, heldBytes)
            if let limit = maxBytes {
                while s.models.count > 1 && heldBytes > limit { evictLeastRecentlyUsed(&s, except: reference) }
            }
            return loaded
        }
    }

    /// Called between stages: with a budget too small for both models, the finished stage's
    /// model is dropped now, keeping only the components the next model shares with it.
    public func prepare(for next: ModelReference, after current: ModelReference) {
        let dropped = state.withLock { s -> Bool in
            guard let limit = maxBytes, next != current, s.models[next] == nil, let held = s.models[current] else { return false }
            // The next model's size is not known before it loads; take this one's as the estimate.
            guard heldBytes + held.componentBytes.values.reduce(0, +) > limit else { return false }
            let nextHashes: Set<String>
            if let files = try? next.files() {
                nextHashes = Set(files.components.map { files.componentHash($0.name) } + [next.vae?.componentKey(precision: next.precision)].compactMap { $0 })
            } else {
                nextHashes = []
            }
            s.models = s.models.filter { $0.key != current }
            s.lastUse[current] = nil
            components.retain(only: Set(s.models.values.flatMap { $0.componentBytes.keys }).union(nextHashes))
            return true
        }
        if dropped { returnFreedMemory() }
    }

    /// Called after the last step of a render, before it decodes: with `dropsSpentParts`, lets go of
    /// `reference`'s UNet and of every ControlNet (a later `unet` is an error naming the model).
    func denoisingDone(with reference: ModelReference) {
        let dropped = state.withLock { s -> Bool in
            guard s.dropsSpentParts, let model = s.models[reference] else { return false }
            model.dropUNet()
            let unet = model.componentHashes["unet"]
            components.forget(where: { $0 == unet || $0.hasPrefix("controlnet:") })
            return true
        }
        if dropped { returnFreedMemory() }
    }

    /// Counts `heldBytes` towards the peak (after a ControlNet loads into `components`).
    func notePeak() {
        state.withLock { $0.peakBytes = max($0.peakBytes, heldBytes) }
    }

    private func evictLeastRecentlyUsed(_ s: inout State, except keep: ModelReference) {
        guard let victim = s.models.keys.filter({ $0 != keep }).min(by: { (s.lastUse[$0] ?? 0) < (s.lastUse[$1] ?? 0) }) else { return }
        s.models[victim] = nil
        s.lastUse[victim] = nil
        components.retain(only: Set(s.models.values.flatMap { $0.componentBytes.keys }))
        returnFreedMemory()
    }
}
