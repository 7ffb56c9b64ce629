import Foundation

/// Elementwise activations, each matching the torch function of the same name in float32.
public enum Activation: String, Sendable {
    case silu
    /// Exact GELU, `0.5 x (1 + erf(x / √2))` (torch `gelu`, transformers "gelu").
    case gelu
    /// Tanh-approximated GELU (torch `gelu(approximate="tanh")`, transformers "gelu_new").
    case geluTanh
    /// `x * sigmoid(1.702 x)` (transformers "quick_gelu", used by OpenAI CLIP).
    case quickGelu

    /// Parses the activation names used in transformers and diffusers config files.
    public init?(configName: String) {
        switch configName {
        case "silu", "swish": self = .silu
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "quick_gelu": self = .quickGelu
        default: return nil
        }
    }

    @inlinable public func apply(_ v: Float) -> Float {
        switch self {
        case .silu: return v / (1 + fastExp(-v))
        case .gelu: return 0.5 * v * (1 + fastErf(v * 0.70710678118654752))
        case .geluTanh:
            return 0.5 * v * (1 + tanhf(0.79788456080286536 * (v + 0.044715 * v * v * v)))
        case .quickGelu: return v / (1 + expf(-1.702 * v))
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let s = x.unsafePointer, d = out.unsafePointer
        // One loop per activation, so the switch is decided once and each loop vectorises (a
        // switch per element kept exact GELU scalar: 23% of OpenCLIP bigG's forward in bf16).
        let grain = 1 << 14
        switch self {
        case .silu: parallelFor(x.count, grain: grain) { r in for i in r { d[i] = Activation.silu.apply(s[i]) } }
        case .gelu: parallelFor(x.count, grain: grain) { r in for i in r { d[i] = Activation.gelu.apply(s[i]) } }
        case .geluTanh: parallelFor(x.count, grain: grain) { r in for i in r { d[i] = Activation.geluTanh.apply(s[i]) } }
        case .quickGelu: parallelFor(x.count, grain: grain) { r in for i in r { d[i] = Activation.quickGelu.apply(s[i]) } }
        }
        return out
    }
}

/// diffusers `GEGLU` after its projection: splits the last axis `[..., 2d]` into value and gate
/// halves and returns `value * gelu(gate)` as `[..., d]`.
public func geglu(_ x: Tensor) -> Tensor {
    let two = x.shape.last!
    precondition(two % 2 == 0)
    let d = two / 2
    let rows = x.count / two
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [d])
    let s = x.unsafePointer, o = out.unsafePointer
    parallelFor(rows, grain: max(1, 4096 / d)) { r in
        for row in r {
            let v = s + row * two, g = v + d, dst = o + row * d
            for i in 0..<d { dst[i] = v[i] * Activation.gelu.apply(g[i]) }
        }
    }
    return out
}
