import Foundation

/// The CPU features that can change Kiln's floating-point results between machines: the vector
/// width and fused multiply-add used by the compiled code and by OpenBLAS's kernels. The
/// thread count is not among them (every partition depends on the problem's sizes alone).
public enum InstructionSet {
    /// The features of this CPU that matter, e.g. "x86_64 avx avx2 fma avx512f avx512bw".
    public static let current: String = describe(architecture: architecture, flags: flags)

    /// Every flag (x86) or feature (ARM) of the first CPU in `/proc/cpuinfo`, read once: the
    /// one reading of it (OpenBLAS's core type is picked from it too; the C kernels ask cpuid).
    static let flags: Set<String>? = flags(architecture: architecture,
                                           cpuinfo: try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))

    /// The flags looked for, in the order they are listed.
    static let x86Flags = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl",
                           "avx512_bf16", "avx512_fp16", "amx_tile"]
    static let armFeatures = ["asimd", "fphp", "asimdhp", "asimddp", "bf16", "i8mm", "sve", "sve2", "sme"]

    static var architecture: String {
        #if arch(x86_64)
        return "x86_64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }

    /// `architecture` and the known features found in the first `flags` (x86) or `Features`
    /// (ARM) line of `/proc/cpuinfo` text.
    static func describe(architecture: String, cpuinfo: String?) -> String {
        describe(architecture: architecture, flags: flags(architecture: architecture, cpuinfo: cpuinfo))
    }

    static func describe(architecture: String, flags: Set<String>?) -> String {
        let known = architecture == "arm64" ? armFeatures : x86Flags
        guard let flags else { return architecture }
        return ([architecture] + known.filter(flags.contains)).joined(separator: " ")
    }

    /// The words of the first `flags` (x86) or `Features` (ARM) line of `/proc/cpuinfo` text.
    static func flags(architecture: String, cpuinfo: String?) -> Set<String>? {
        let key = architecture == "arm64" ? "Features" : "flags"
        guard let line = cpuinfo?.split(separator: "\n").first(where: { $0.hasPrefix(key) }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
}
