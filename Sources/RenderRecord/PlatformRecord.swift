import Foundation

/// What can still change an image's pixels between machines with the same Kiln build and
/// request: the CPU's instruction set, OpenBLAS's kernels and how 3x3 convolutions ran (Winograd
/// or direct, a process setting). The thread count cannot (every
/// partition of the work depends on the sizes alone), so it is not recorded.
public struct PlatformRecord: Sendable, Codable, Equatable {
    /// The architecture and the SIMD features that matter, e.g. "x86_64 avx avx2 fma avx512f".
    public var instructionSet: String
    /// OpenBLAS's kernel family (`openblas_get_corename`), e.g. "Cooperlake" or "Haswell".
    public var blasCore: String
    /// How 3x3 convolutions ran: "winograd" (the default) or "direct" (`KILN_CONV=direct`).
    /// Absent in records written before Winograd.
    public var convolution: String?
    /// For renders that asked for bf16: the precision they ran in here ("bf16", or "fp32" on a
    /// CPU without AVX512-BF16). Absent for float32 requests.
    public var precision: String?

    public init(instructionSet: String, blasCore: String, convolution: String?, precision: String? = nil) {
        self.instructionSet = instructionSet; self.blasCore = blasCore; self.convolution = convolution; self.precision = precision
    }
}
