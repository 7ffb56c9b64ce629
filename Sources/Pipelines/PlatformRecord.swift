import Numerics

/// A platform record (RenderRecord) of this process: its instruction set, OpenBLAS core and
/// convolution algorithm.
extension PlatformRecord {
    /// A record of this process's convolution algorithm.
    public init(instructionSet: String, blasCore: String, precision: String? = nil) {
        self.init(instructionSet: instructionSet, blasCore: blasCore, convolution: ConvolutionAlgorithm.current.rawValue, precision: precision)
    }

    /// This machine's.
    public static var current: PlatformRecord {
        PlatformRecord(instructionSet: InstructionSet.current, blasCore: BLASLibrary.shared.coreName)
    }
}
