import Synchronization

/// The process's compute settings: the `kiln` command (and the benchmarks) read them from the
/// environment once, at the start, and `install` them before any work; Numerics reads `current`,
/// never the environment. A process that installs nothing (tests, other programs) gets the
/// defaults. Each is fixed for the process from its first use, so a render never mixes two.
public struct RuntimeSettings: Sendable, Equatable {
    /// Threads for `parallelFor` and GEMM tiles (`KILN_THREADS=N`, N > 0; nil: all cores).
    public var threads: Int?
    /// How a bf16 request runs (`KILN_BF16=portable|off`).
    public var bf16: BF16Mode
    /// How 3x3 stride-1 convolutions are computed (`KILN_CONV=winograd|direct`).
    public var convolution: ConvolutionAlgorithm
    /// The OpenBLAS core to load instead of the CPU flags' choice (`KILN_BLAS_CORE=NAME`).
    public var blasCore: String?

    public init(threads: Int? = nil, bf16: BF16Mode = .auto, convolution: ConvolutionAlgorithm = .winograd,
                blasCore: String? = nil) {
        self.threads = threads; self.bf16 = bf16; self.convolution = convolution; self.blasCore = blasCore
    }

    /// The settings `environment` names; a value Kiln does not know leaves that setting's default.
    public init(environment: [String: String]) {
        self.init(threads: environment["KILN_THREADS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil },
                  bf16: environment["KILN_BF16"].flatMap(BF16Mode.init(rawValue:)) ?? .auto,
                  convolution: environment["KILN_CONV"].flatMap(ConvolutionAlgorithm.init(rawValue:)) ?? .winograd,
                  blasCore: environment["KILN_BLAS_CORE"].flatMap { $0.isEmpty ? nil : $0 })
    }

    private static let installed = Mutex<RuntimeSettings>(RuntimeSettings())

    /// The installed settings (the defaults when none were).
    public static var current: RuntimeSettings { installed.withLock { $0 } }

    /// Makes `settings` the process's; call once, before any work.
    public static func install(_ settings: RuntimeSettings) { installed.withLock { $0 = settings } }
}

/// What `KILN_BF16` asks of bf16 requests: `auto` (bf16 on CPUs with AVX512-BF16, float32 with a
/// notice elsewhere), `portable` (the portable bf16 kernel anyway) or `off` (float32).
public enum BF16Mode: String, Sendable {
    case auto, portable, off
}

/// How 3x3 stride-1 convolutions are computed: Winograd F(4x4, 3x3) (the default) or the direct
/// shifted-window GEMMs. `KILN_CONV=direct` (`RuntimeSettings.convolution`) picks the direct one
/// (to compare the two); the choice is made once per process, so a render never mixes them.
public enum ConvolutionAlgorithm: String, Sendable {
    case winograd, direct

    public static let current: ConvolutionAlgorithm = RuntimeSettings.current.convolution
}
