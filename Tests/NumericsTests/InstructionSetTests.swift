@testable import Numerics
import XCTest

final class InstructionSetTests: XCTestCase {
    func testKnownFeaturesAreListedInAFixedOrder() {
        let x86 = "processor\t: 0\nflags\t\t: fpu sse2 avx512f fma avx2 avx avx512bw ssse3 avx512_bf16\nflags\t\t: other\n"
        XCTAssertEqual(InstructionSet.describe(architecture: "x86_64", cpuinfo: x86), "x86_64 avx avx2 fma avx512f avx512bw avx512_bf16")
        let arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm sve i8mm bf16 asimddp\n"
        XCTAssertEqual(InstructionSet.describe(architecture: "arm64", cpuinfo: arm), "arm64 asimd asimddp bf16 i8mm sve")
        XCTAssertEqual(InstructionSet.describe(architecture: "x86_64", cpuinfo: nil), "x86_64")
    }
}
