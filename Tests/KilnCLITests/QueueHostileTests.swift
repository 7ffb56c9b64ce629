import Foundation
import KilnTestSupport
import XCTest

/// What a hostile tester or an unlucky operator found (issue 21): a mistyped `--db` that made an
/// empty queue, and the like. Each runs on both databases.
final class QueueHostileTests: QueueTestCase {

    /// Only `enqueue` and `sweep` create a queue: the other writers refuse a missing SQLite file
    /// (or a PostgreSQL database without Kiln's tables) in one line and leave nothing behind.
    func testWritersOtherThanEnqueueAndSweepRefuseAMissingQueue() throws {
        try onEachBackend { backend in
            let db = try queue("typo")
            for args in [["cancel", "--db", db, "1"], ["retry", "--db", db, "1"], ["pause", "--db", db], ["resume", "--db", db],
                         ["prune", "--db", db], ["work", "--db", db, "--until-empty"]] {
                let r = try KilnProcess.run(args)
                XCTAssertNotEqual(r.status, 0, "\(args[0]): \(r.stdout)")
                XCTAssertEqual(r.stderrLines.count, 1, "\(args[0]): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains("check --db"), "\(args[0]): \(r.stderr)")
                if backend == .sqlite { XCTAssertTrue(r.stderr.contains("no such queue file \(db)"), r.stderr) }
                XCTAssertTrue(try nothingWritten(db), "\(args[0]) created a queue")
            }
            // An existing queue is still worked on, and enqueue still creates one.
            XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "x"]).status, 0)
            let r = try KilnProcess.run(["pause", "--db", db])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, "paused\n")
        }
    }

    /// A 0-byte file is not a queue for a writer that must not create one; enqueue makes it one.
    func testAnEmptyFileIsNotAQueueExceptForEnqueue() throws {
        let db = dir + "/empty.db"
        XCTAssertTrue(FileManager.default.createFile(atPath: db, contents: Data()))
        try assertOneLineFailure(["pause", "--db", db], mentions: [db, "not a Kiln queue"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)).count, 0, "pause wrote to the file")
        let r = try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "x"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try KilnProcess.query(db, "SELECT COUNT(*) FROM v_jobs"), ["1"])
    }
}
