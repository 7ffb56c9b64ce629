import Foundation
import KilnTestSupport
import Numerics
import XCTest

/// The environment knobs as `kiln` hands them to Numerics: each parsed as documented, and no
/// library module reading the environment for them itself.
final class RuntimeSettingsTests: XCTestCase {
    func testEachKnobIsParsedAsDocumented() {
        XCTAssertEqual(RuntimeSettings(environment: [:]), RuntimeSettings())
        let all = RuntimeSettings(environment: ["KILN_THREADS": "3", "KILN_BF16": "portable", "KILN_CONV": "direct",
                                                "KILN_BLAS_CORE": "Haswell"])
        XCTAssertEqual(all, RuntimeSettings(threads: 3, bf16: .portable, convolution: .direct, blasCore: "Haswell"))
        XCTAssertEqual(RuntimeSettings(environment: ["KILN_BF16": "off"]).bf16, .off)
        // Values Kiln does not know leave the default, as before.
        let unknown = RuntimeSettings(environment: ["KILN_THREADS": "0", "KILN_BF16": "yes", "KILN_CONV": "fft",
                                                    "KILN_BLAS_CORE": ""])
        XCTAssertEqual(unknown, RuntimeSettings())
        XCTAssertNil(RuntimeSettings(environment: ["KILN_THREADS": "-2"]).threads)
        XCTAssertNil(RuntimeSettings(environment: ["KILN_THREADS": "two"]).threads)
    }

    func testBF16ModeIsPassedToPrecision() {
        XCTAssertEqual(Precision.effective(.fp32, mode: .portable).precision, .fp32)
        XCTAssertEqual(Precision.effective(.bf16, mode: .portable).precision, .bf16)
        XCTAssertNil(Precision.effective(.bf16, mode: .portable).notice)
        let off = Precision.effective(.bf16, mode: .off)
        XCTAssertEqual(off.precision, .fp32)
        XCTAssertEqual(off.notice, "precision bf16: KILN_BF16=off, so this render runs in float32")
        XCTAssertEqual(Precision.effective(.bf16, mode: .auto).precision, BF16Matrix.hasHardwareSupport ? .bf16 : .fp32)
    }

    /// Only executables (kiln, the benchmarks, the fuzzer) read the process environment for
    /// Kiln's own `KILN_*` knobs; library modules are handed the values.
    func testLibraryModulesDoNotReadKilnsKnobsFromTheEnvironment() throws {
        let sources = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        let executables: Set<String> = ["kiln", "KilnBenchmark", "KilnGEMMBenchmark", "KilnQueueBenchmark",
                                        "KilnGalleryBenchmark", "KilnFuzz"]
        let modules = try FileManager.default.contentsOfDirectory(atPath: sources.path)
        XCTAssertTrue(modules.contains("Numerics"), sources.path)
        var readers: [String] = []
        for module in modules.sorted() where !executables.contains(module) {
            let folder = sources.appendingPathComponent(module)
            guard let files = FileManager.default.enumerator(atPath: folder.path) else { continue }
            for case let file as String in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                if text.contains("processInfo.environment[\"KILN_") || text.contains("getenv(\"KILN_") {
                    readers.append("\(module)/\(file)")
                }
            }
        }
        XCTAssertEqual(readers, [], "read KILN_* in the kiln command and pass the value down")
    }
}
