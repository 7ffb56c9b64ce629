import Foundation
import ModelFiles
import Numerics

/// Shape-checked access to one component's weights under a key prefix, with loaders for the
/// layer types the networks use. Errors name the component, the tensor and the file.
public struct WeightReader: Sendable {
    public let source: any WeightSource
    public let component: String
    public let prefix: String
    /// What `linear` and `conv` build their layers in (`.bf16`: weights packed to bfloat16).
    public var precision: Precision = .fp32
    /// When set, tensors are made up instead of read (benchmarks at full size without files).
    let synthesize: (@Sendable (String, [Int]) -> Tensor)?

    public init(source: any WeightSource, component: String, prefix: String = "") {
        self.source = source; self.component = component; self.prefix = prefix; synthesize = nil
    }

    init(source: any WeightSource, component: String, prefix: String, synthesize: (@Sendable (String, [Int]) -> Tensor)?) {
        self.source = source; self.component = component; self.prefix = prefix; self.synthesize = synthesize
    }

    /// A reader that answers every request with deterministic random values of the requested
    /// shape, scaled like torch's default initialisation (uniform in ±1/√fan_in; norms 1 and 0).
    public static func random(seed: UInt64, component: String) -> WeightReader {
        WeightReader(source: EmptyWeights(), component: component, prefix: "") { name, shape in
            let t = Tensor(uninitialized: shape, longLived: true)
            let p = t.unsafePointer
            let isNorm = name.contains("norm")
            if isNorm {
                let value: Float = name.hasSuffix("weight") ? 1 : 0
                p.initialize(repeating: value, count: t.count)
                return t
            }
            let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : max(shape.first ?? 1, 1)
            let bound = 1 / Float(fanIn).squareRoot()
            var h = seed ^ 0x9E37_79B9_7F4A_7C15
            for c in name.utf8 { h = (h ^ UInt64(c)) &* 0x100_0000_01B3 }
            let base = h
            parallelFor(t.count, grain: 1 << 16) { r in
                for i in r {
                    var x = base &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
                    x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
                    x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
                    x ^= x >> 31
                    p[i] = (Float(x >> 40) / Float(1 << 24) * 2 - 1) * bound
                }
            }
            return t
        }
    }

    /// A reader for the keys under `prefix.name.`.
    public func scoped(_ name: String) -> WeightReader {
        var reader = WeightReader(source: source, component: component, prefix: key(name) + ".", synthesize: synthesize)
        reader.precision = precision
        return reader
    }

    /// This reader building its layers in `precision`.
    public func with(precision: Precision) -> WeightReader {
        var reader = self
        reader.precision = precision
        return reader
    }

    public func key(_ name: String) -> String { prefix + name }

    public func has(_ name: String) -> Bool { synthesize == nil && source.info(key(name)) != nil }

    /// Loads `name` and checks it has `shape` (a 1x1 conv kernel also satisfies a linear shape
    /// when `allowConv1x1` is set, as diffusers and single-file checkpoints mix the two).
    public func tensor(_ name: String, shape: [Int], allowConv1x1: Bool = false) throws -> Tensor {
        let full = key(name)
        if let synthesize { return synthesize(full, shape) }
        let info = try check(name, shape: shape, allowConv1x1: allowConv1x1)
        let t = try source.load(full)
        return info.shape == shape ? t : t.reshaped(shape)
    }

    /// Loads `name` (checked as `tensor` checks it) into a buffer reused from one call to the
    /// next and passes its values to `body`: for weights that are repacked at once (bf16), so
    /// the float32 values do not take fresh pages (a fifth of a bf16 render's time went to
    /// zeroing them).
    public func withTensor<R>(_ name: String, shape: [Int], allowConv1x1: Bool = false,
                              _ body: (UnsafePointer<Float>) throws -> R) throws -> R {
        let full = key(name)
        if let synthesize { return try body(synthesize(full, shape).unsafePointer) }
        let info = try check(name, shape: shape, allowConv1x1: allowConv1x1)
        return try LoadBuffer.shared.use(count: info.elementCount) { buffer in
            try source.load(full, into: buffer)
            return try body(buffer)
        }
    }

    /// The info of `name`, or the error for a missing or misshapen tensor (`tensor` and
    /// `withTensor` check alike).
    func check(_ name: String, shape: [Int], allowConv1x1: Bool = false) throws -> TensorInfo {
        let full = key(name)
        guard let info = source.info(full) else {
            throw ModelFileError.missingTensor(component: component, tensor: full, searched: source.location(of: full))
        }
        guard info.shape == shape || (allowConv1x1 && info.shape == shape + [1, 1]) else {
            throw ModelFileError.shapeMismatch(component: component, tensor: full, expected: shape,
                                               actual: info.shape, file: source.location(of: full))
        }
        return info
    }

    public func linear(_ name: String, in inputs: Int, out outputs: Int, bias: Bool = true) throws -> Linear {
        let s = scoped(name)
        guard precision == .bf16 else {
            return Linear(weight: try s.tensor("weight", shape: [outputs, inputs], allowConv1x1: true),
                          bias: bias ? try s.tensor("bias", shape: [outputs]) : nil)
        }
        let packed = try s.withTensor("weight", shape: [outputs, inputs], allowConv1x1: true) {
            BF16Matrix(linearWeight: $0, out: outputs, in: inputs)
        }
        return Linear(packed: packed, bias: bias ? try s.tensor("bias", shape: [outputs]) : nil)
    }

    public func conv(_ name: String, in inputs: Int, out outputs: Int, kernel: Int, stride: Int = 1,
                     padding: Int = 0, bias: Bool = true) throws -> Conv2D {
        try conv(name, in: inputs, out: outputs, kernel: kernel, stride: stride,
                 padding: (padding, padding, padding, padding), bias: bias)
    }

    public func conv(_ name: String, in inputs: Int, out outputs: Int, kernel: Int, stride: Int,
                     padding: (top: Int, bottom: Int, left: Int, right: Int), bias: Bool = true) throws -> Conv2D {
        let s = scoped(name)
        // The bias is read inside, so a misshapen weight is reported before the bias.
        return try s.withTensor("weight", shape: [outputs, inputs, kernel, kernel]) {
            Conv2D(torchWeight: $0, shape: (outputs, inputs, kernel, kernel), bias: bias ? try s.tensor("bias", shape: [outputs]) : nil,
                   stride: stride, padding: padding, precision: precision)
        }
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

/// A weight source with no tensors.
final class EmptyWeights: WeightSource, Sendable {
    var tensorNames: [String] { [] }
    func info(_ name: String) -> TensorInfo? { nil }
    func location(of name: String) -> String { "no weights" }
    func load(_ name: String) throws -> Tensor {
        throw ModelFileError.missingTensor(component: "no weights", tensor: name, searched: "no weights")
    }
}

/// The buffer `WeightReader.withTensor` loads into: grown to the largest tensor asked for and
/// kept, one user at a time (models load one component at a time).
final class LoadBuffer: @unchecked Sendable {
    static let shared = LoadBuffer()
    private let lock = NSLock()
    private var pointer = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var capacity = 1

    func use<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        }
        return try body(pointer)
    }
}
