import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `KILN_TIMINGS=FILE` (the benchmark suite's per-step series): one entry per step of every
/// stage, the same image and standard output as without it, and a bad path refused before any work.
final class RenderTimingsTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let model = Fixtures.model("tiny-sdxl-base")

    func render(_ output: String, steps: Int, extra: [String] = [], environment: [String: String] = [:]) throws -> KilnRun {
        try KilnProcess.run(["render", "--model", model, "--prompt", "a lighthouse", "--steps", "\(steps)", "--seed", "3",
                             "--width", "64", "--height", "64", "--output", output] + extra, environment: environment)
    }

    func testTimingsFileHoldsOneEntryPerStepAndLeavesTheOutputAlone() throws {
        let plain = try render(dir + "/a.png", steps: 5)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let timed = try render(dir + "/b.png", steps: 5, environment: ["KILN_TIMINGS": dir + "/t.json"])
        XCTAssertEqual(timed.status, 0, timed.stderr)
        XCTAssertEqual(timed.stdout.replacingOccurrences(of: "b.png", with: "a.png"), plain.stdout)
        // The PNGs' text records each render's own seconds; the pixels are the same.
        XCTAssertEqual(try ImageFile.read(dir + "/a.png").pixels, try ImageFile.read(dir + "/b.png").pixels)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/t.json"))) as? [String: Any])
        let steps = try XCTUnwrap(json["step_seconds"] as? [Double])
        XCTAssertEqual(steps.count, 5)
        XCTAssertTrue(steps.allSatisfy { $0 > 0 && $0 < 60 }, "\(steps)")
        let setup = try XCTUnwrap(json["setup_seconds"] as? Double), decode = try XCTUnwrap(json["decode_seconds"] as? Double)
        XCTAssertGreaterThan(setup, 0)
        XCTAssertGreaterThan(decode, 0)
    }

    func testTimingsCoverTheRefinersStepsToo() throws {
        let r = try render(dir + "/e.png", steps: 4, extra: ["--refiner", Fixtures.model("tiny-sdxl-refiner"), "--high-noise-frac", "0.5"],
                           environment: ["KILN_TIMINGS": dir + "/e.json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/e.json"))) as? [String: Any])
        XCTAssertEqual((json["step_seconds"] as? [Double])?.count, 4)
    }

    func testATimingsFileInAMissingFolderIsRefusedBeforeAnyWork() throws {
        let r = try render(dir + "/c.png", steps: 2, environment: ["KILN_TIMINGS": dir + "/missing/t.json"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("KILN_TIMINGS") && r.stderr.contains("/missing"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/c.png"))
    }
}
