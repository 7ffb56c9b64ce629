import Foundation
import ModelFiles
import Numerics

/// A LoRA file with the scale it is applied at (`set_adapters(weights=...)`).
public struct ScaledLoRA: Sendable {
    public let file: LoRAFile
    public let scale: Float
    public init(file: LoRAFile, scale: Float) { self.file = file; self.scale = scale }
}

/// A component's weights with LoRAs merged in at load: each changed weight is
/// `W + Σ scale * (alpha / rank) * (up @ down)`, computed once when the network is built
/// (diffusers' `fuse_lora`), so rendering costs nothing extra.
public final class LoRAWeights: WeightSource, Sendable {
    public let base: any WeightSource
    /// Weight name to the LoRA modules that change it.
    let changes: [String: [(lora: ScaledLoRA, module: LoRAModule)]]

    /// Every module of `loras` for `component` must name a weight of `base`; the first that does
    /// not is refused with its key.
    public init(base: any WeightSource, component: String, loras: [ScaledLoRA], layersPerBlock: Int) throws {
        self.base = base
        let names = ModuleNames(weightNames: base.tensorNames, layersPerBlock: layersPerBlock)
        var changes: [String: [(lora: ScaledLoRA, module: LoRAModule)]] = [:]
        for lora in loras {
            for module in lora.file.modules where module.component == component {
                guard let target = names.module(for: module) else {
                    throw AdapterError.unknownModule(path: lora.file.path, key: module.key, component: component)
                }
                changes[target + ".weight", default: []].append((lora, module))
            }
        }
        self.changes = changes
    }

    /// Whether any LoRA changes this component.
    public var isEmpty: Bool { changes.isEmpty }

    public var tensorNames: [String] { base.tensorNames }
    public func info(_ name: String) -> TensorInfo? { base.info(name) }
    public func location(of name: String) -> String {
        guard let c = changes[name] else { return base.location(of: name) }
        return base.location(of: name) + " + LoRA " + c.map { ($0.lora.file.path as NSString).lastPathComponent }.joined(separator: ", ")
    }

    public func load(_ name: String) throws -> Tensor {
        var weight = try base.load(name)
        for (lora, module) in changes[name] ?? [] {
            weight.add(try lora.file.delta(module, weightShape: weight.shape, scale: lora.scale))
        }
        return weight
    }
}
