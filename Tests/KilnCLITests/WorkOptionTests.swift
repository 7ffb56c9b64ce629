import Foundation
import KilnTestSupport
import XCTest

/// `kiln work` refuses out-of-range numbers before it claims a job.
final class WorkOptionTests: XCTestCase {
    func testHugeLeaseIsRefusedBeforeClaiming() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/q.db"
        let e = try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "a fox",
                                     "--width", "64", "--height", "64", "--steps", "2"])
        XCTAssertEqual(e.status, 0, e.stderr)
        for (option, value) in [("--lease", "1e300"), ("--lease", "nan"), ("--lease", "0.5"), ("--checkpoint-every", "0"),
                                ("--checkpoint-every", "9223372036854775807"), ("--preview-every", "0"), ("--preview-every", "100001")] {
            let r = try KilnProcess.run(["work", "--db", db, "--until-empty", option, value])
            XCTAssertNotEqual(r.status, 0, "\(option) \(value)")
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(option), r.stderr)
        }
        XCTAssertEqual(try KilnProcess.query(db, "SELECT state, attempts FROM v_jobs"), ["queued,0"], "no job was claimed")
    }
}
