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
            XCTAssertFalse(r.stdout.contains("images/hour"), "the first job, which loads the models, gives no warm rate")
            let status = try KilnProcess.run(["status", "--db", db]).stdout
            XCTAssertNotNil(status.range(of: #"queue +3 steps left +NULL +[0-9.]+"#, options: .regularExpression), status)
        }
    }

    /// From its second job on, a worker logs the images per hour it makes once its models are loaded.
    func testAWarmWorkerLogsImagesPerHour() throws {
        try onEachBackend { _ in
            let db = try queue("q")
            try enqueue(db, 3)
            let r = try KilnProcess.run(["work", "--db", db, "--until-empty"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let lines = r.stdout.split(separator: "\n").filter { $0.contains(" done in ") }
            XCTAssertEqual(lines.count, 3, r.stdout)
            guard lines.count == 3 else { return }
            XCTAssertFalse(lines[0].contains("images/hour"), String(lines[0]))
            for (line, jobs) in [(lines[1], 1), (lines[2], 2)] {
                let pattern = #"done in ([0-9.]+) s, 3 steps \([0-9.]+ steps/s\); ([0-9.]+) images/hour warm \("# + "\(jobs) jobs?\\)$"
                let text = String(line)
                guard let m = try NSRegularExpression(pattern: pattern).firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                      let rate = Range(m.range(at: 2), in: text).flatMap({ Double(text[$0]) }) else {
                    XCTFail("no warm rate in: \(line)"); continue
                }
                XCTAssertGreaterThan(rate, 0, String(line))
            }
            // One image a job: the second job's rate is 3600 over its own seconds (to the log's rounding).
            let second = String(lines[1])
            if let m = try NSRegularExpression(pattern: #"done in ([0-9.]+) s.*; ([0-9.]+) images/hour"#).firstMatch(in: second, range: NSRange(second.startIndex..., in: second)),
               let s = Range(m.range(at: 1), in: second).flatMap({ Double(second[$0]) }),
               let rate = Range(m.range(at: 2), in: second).flatMap({ Double(second[$0]) }), s > 0.2 {
                XCTAssertEqual(rate, 3600 / s, accuracy: 3600 / s * 0.2, second)
            }
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
