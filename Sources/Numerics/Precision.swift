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

    /// What a render asking for `requested` runs in on this machine, and the notice to give when
    /// that is not what was asked: bf16 needs AVX512-BF16, and without it Kiln renders in float32
    /// (the portable bf16 kernel gives the same bits but is several times slower than float32).
    /// `KILN_BF16=portable` runs bf16 on the portable kernel anyway (tests on other CPUs);
    /// `KILN_BF16=off` renders bf16 requests in float32 as a CPU without AVX512-BF16 would
    /// (`mode`: the process's `RuntimeSettings.bf16` unless given).
    public static func effective(_ requested: Precision, mode: BF16Mode = RuntimeSettings.current.bf16)
        -> (precision: Precision, notice: String?) {
        guard requested == .bf16 else { return (requested, nil) }
        switch mode {
        case .portable: return (.bf16, nil)
        case .off: return (.fp32, "precision bf16: KILN_BF16=off, so this render runs in float32")
        case .auto:
            if BF16Matrix.hasHardwareSupport { return (.bf16, nil) }
            return (.fp32, "precision bf16: this CPU has no avx512_bf16, so this render runs in float32 (KILN_BF16=portable runs the slow portable bf16 kernel instead)")
        }
    }
}
