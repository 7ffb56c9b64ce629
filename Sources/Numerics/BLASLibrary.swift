import CBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS, loaded at run time.
///
/// OpenBLAS picks its kernels for the CPU in a library constructor. Debian's 0.3.21 does not
/// recognise recent Xeons (e.g. AVX-512 with BF16 under a generic model name) and falls back to
/// its SSE3 "Prescott" kernels, about 9x slower. Loading the library here, after setting
/// `OPENBLAS_CORETYPE` from the CPU's flags, avoids that. The choice depends only on the CPU,
/// so results stay bit-identical from run to run on one machine.
///
/// An `OPENBLAS_CORETYPE` already in the environment is replaced: machines set it for other
/// programs (the development machines set Haswell, whose AVX2 kernels run a full-size UNet step
/// 1.5x slower than the AVX-512 ones on their Zen 4 cores). `KILN_BLAS_CORE`
/// (`RuntimeSettings.blasCore`) names the core for Kiln itself; provenance records the one that ran.
public final class BLASLibrary: Sendable {
    public typealias SGEMM = @convention(c) (CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int32, Int32, Int32,
                                            Float, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
                                            Float, UnsafeMutablePointer<Float>?, Int32) -> Void

    public static let shared = BLASLibrary()

    public let sgemm: SGEMM
    /// The kernel family OpenBLAS runs (e.g. "Cooperlake", "SkylakeX", "Haswell").
    public let coreName: String

    private init() {
        if let core = RuntimeSettings.current.blasCore ?? BLASLibrary.coreTypeFromCPUFlags() {
            setenv("OPENBLAS_CORETYPE", core, 1)
        }
        var handle: UnsafeMutableRawPointer? = nil
        for name in ["libopenblas.so.0", "libopenblas.so", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
                     "/usr/lib/aarch64-linux-gnu/libopenblas.so.0"] {
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
            if handle != nil { break }
        }
        guard let handle, let gemm = dlsym(handle, "cblas_sgemm") else {
            FileHandle.standardError.write(Data("kiln: OpenBLAS (libopenblas.so.0) cannot be loaded; install it with: apt-get install libopenblas0\n".utf8))
            exit(70)
        }
        sgemm = unsafeBitCast(gemm, to: SGEMM.self)
        if let set = dlsym(handle, "openblas_set_num_threads") {
            typealias SetThreads = @convention(c) (Int32) -> Void
            // One OpenBLAS thread: Kiln splits large products over its own workers (see gemm),
            // so no idle OpenBLAS threads spin while other kernels run.
            unsafeBitCast(set, to: SetThreads.self)(1)
        }
        if let get = dlsym(handle, "openblas_get_corename") {
            typealias GetName = @convention(c) () -> UnsafeMutablePointer<CChar>?
            coreName = unsafeBitCast(get, to: GetName.self)().map { String(cString: $0) } ?? "unknown"
        } else {
            coreName = "unknown"
        }
    }

    /// The OpenBLAS core type for this CPU's instruction sets, from /proc/cpuinfo's flags as
    /// `InstructionSet` read them (x86-64 only).
    static func coreTypeFromCPUFlags() -> String? {
        guard InstructionSet.architecture == "x86_64", let flags = InstructionSet.flags else { return nil }
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512_bf16"]) { return "Cooperlake" }
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }
}
