// Precision, the name a request gives, is KilnBasics' (light: the queue holds requests without
// Numerics); Numerics re-exports it with the rest of KilnBasics for the modules that compute.
@_exported import KilnBasics

extension Precision {
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
