import ModelFiles
import Numerics

/// Shape-checked access to one component's weights under a key prefix, with loaders for the
/// layer types the networks use. Errors name the component, the tensor and the file.
public struct WeightReader: Sendable {
    public let source: any WeightSource
    public let component: String
    public let prefix: String

    public init(source: any WeightSource, component: String, prefix: String = "") {
        self.source = source; self.component = component; self.prefix = prefix
    }

    /// A reader for the keys under `prefix.name.`.
    public func scoped(_ name: String) -> WeightReader {
        WeightReader(source: source, component: component, prefix: key(name) + ".")
    }

    public func key(_ name: String) -> String { prefix + name }

    public func has(_ name: String) -> Bool { source.info(key(name)) != nil }

    /// Loads `name` and checks it has `shape` (a 1x1 conv kernel also satisfies a linear shape
    /// when `allowConv1x1` is set, as diffusers and single-file checkpoints mix the two).
    public func tensor(_ name: String, shape: [Int], allowConv1x1: Bool = false) throws -> Tensor {
        let full = key(name)
        guard let info = source.info(full) else {
            throw ModelFileError.missingTensor(component: component, tensor: full, searched: source.location(of: full))
        }
        if info.shape != shape {
            if allowConv1x1 && info.shape == shape + [1, 1] {
                return try source.load(full).reshaped(shape)
            }
            throw ModelFileError.shapeMismatch(component: component, tensor: full, expected: shape,
                                               actual: info.shape, file: source.location(of: full))
        }
        return try source.load(full)
    }

    public func linear(_ name: String, in inputs: Int, out outputs: Int, bias: Bool = true) throws -> Linear {
        let s = scoped(name)
        return Linear(weight: try s.tensor("weight", shape: [outputs, inputs], allowConv1x1: true),
                      bias: bias ? try s.tensor("bias", shape: [outputs]) : nil)
    }

    public func conv(_ name: String, in inputs: Int, out outputs: Int, kernel: Int, stride: Int = 1,
                     padding: Int = 0, bias: Bool = true) throws -> Conv2D {
        let s = scoped(name)
        return Conv2D(torchWeight: try s.tensor("weight", shape: [outputs, inputs, kernel, kernel]),
                      bias: bias ? try s.tensor("bias", shape: [outputs]) : nil,
                      stride: stride, padding: padding)
    }

    public func groupNorm(_ name: String, channels: Int, groups: Int, epsilon: Float) throws -> GroupNorm {
        let s = scoped(name)
        return GroupNorm(groups: groups, epsilon: epsilon,
                         weight: try s.tensor("weight", shape: [channels]),
                         bias: try s.tensor("bias", shape: [channels]))
    }

    public func layerNorm(_ name: String, dim: Int, epsilon: Float) throws -> LayerNorm {
        let s = scoped(name)
        return LayerNorm(epsilon: epsilon, weight: try s.tensor("weight", shape: [dim]),
                         bias: try s.tensor("bias", shape: [dim]))
    }
}

/// Raised when a config asks for something the networks cannot be built with.
func configError(_ config: ConfigFile, _ key: String, _ reason: String) -> ModelFileError {
    .invalidConfig(path: config.path, key: key, reason: reason)
}
