import Foundation

/// The arithmetic a model's matrix work runs in (`--precision`).
///
/// - `fp32`: float32 throughout, the default and the parity reference (diffusers on the CPU in
///   float32).
/// - `bf16`: the GEMMs of linear layers, convolutions and attention take bfloat16 operands with
///   float32 accumulation (weights stored in bfloat16, activations rounded as they enter a GEMM,
///   as AVX512-BF16's vdpbf16ps does). Activations between layers, norms, softmax and the
///   scheduler stay float32, so it is closer to float32 than diffusers with
///   `torch_dtype=torch.bfloat16`, whose activations are bfloat16 too.
public enum Precision: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case fp32, bf16

    /// `fp32`/`float32` or `bf16`/`bfloat16`.
    public init?(name: String) {
        switch name.lowercased() {
        case "fp32", "float32", "f32": self = .fp32
        case "bf16", "bfloat16": self = .bf16
        default: return nil
        }
    }

    public var description: String { rawValue }
}
