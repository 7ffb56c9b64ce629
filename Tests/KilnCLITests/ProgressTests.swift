import Foundation
import KilnTestSupport
import XCTest

/// What `kiln work` and `kiln status` tell a person watching the queue.
final class ProgressTests: QueueTestCase {

    func enqueue(_ db: String, _ n: Int) throws {
        for i in 0..<n {
            let r = try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "p\(i)",
                                         "--steps", "3", "--width", "64", "--height", "64", "--seed", "\(i)"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
    }

    func testLogLinesGiveSecondsAndRateAndStatusGivesTheQueueETA() throws {
        try onEachBackend { _ in
            let db = try queue("q")
            try enqueue(db, 2)
            let r = try KilnProcess.run(["work", "--db", db, "--until-empty", "--max-jobs", "1"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertNotNil(r.stdout.range(of: #"job 1 done in [0-9.]+ s, 3 steps \([0-9.]+ steps/s\)"#, options: .regularExpression), r.stdout)
            XCTAssertFalse(r.stdout.contains("\r"), "no live line when stdout is not a terminal")
            let status = try KilnProcess.run(["status", "--db", db]).stdout
            XCTAssertNotNil(status.range(of: #"queue +3 steps left +NULL +[0-9.]+"#, options: .regularExpression), status)
        }
    }

    func testATerminalGetsALiveLine() throws {
        try onEachBackend { _ in
            let db = try queue("q")
            try enqueue(db, 2)
            // script(1) gives kiln a pseudo-terminal as stdout.
            let command = "'\(KilnProcess.executable)' work --db '\(db)' --until-empty"
            let r = try KilnProcess.runTool("/usr/bin/script", ["-qc", command, "/dev/null"])
            XCTAssertTrue(r.contains("\rjob 1 step 3/3, 0 images tonight"), r)
            XCTAssertTrue(r.contains("\rjob 2 step 3/3, 1 images tonight, queue ETA"), r)
        }
    }
}
