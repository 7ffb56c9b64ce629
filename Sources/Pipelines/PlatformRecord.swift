import Numerics

/// What can still change an image's pixels between machines with the same Kiln build and
/// request: the CPU's instruction set and OpenBLAS's kernels. The thread count cannot (every
/// partition of the work depends on the sizes alone), so it is not recorded.
public struct PlatformRecord: Sendable, Codable, Equatable {
    /// The architecture and the SIMD features that matter, e.g. "x86_64 avx avx2 fma avx512f".
    public var instructionSet: String
    /// OpenBLAS's kernel family (`openblas_get_corename`), e.g. "Cooperlake" or "Haswell".
    public var blasCore: String

    public init(instructionSet: String, blasCore: String) {
        self.instructionSet = instructionSet; self.blasCore = blasCore
    }

    /// This machine's.
    public static var current: PlatformRecord {
        PlatformRecord(instructionSet: InstructionSet.current, blasCore: BLASLibrary.shared.coreName)
    }
}
