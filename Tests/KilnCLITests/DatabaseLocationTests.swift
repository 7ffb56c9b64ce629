import Foundation
import KilnTestSupport
import XCTest

/// `--db` takes a file or a postgresql:// URL in every queue command, `KILN_DB` stands in when it
/// is absent, and a bad location fails in one line that never shows a password.
final class DatabaseLocationTests: QueueTestCase {
    func testKILN_DBIsTheDefaultInEveryCommand() throws {
        try onEachBackend { _ in
            let db = try queue("env")
            func run(_ args: [String]) throws -> KilnRun { try KilnProcess.run(args, environment: ["KILN_DB": db]) }
            let model = Fixtures.model("tiny-sdxl-base")
            XCTAssertEqual(try run(["enqueue", "--model", model, "--prompt", "x", "--steps", "1", "--width", "64", "--height", "64"]).stdout, "1\n")
            XCTAssertEqual(try run(["pause"]).stdout, "paused\n")
            XCTAssertEqual(try run(["resume"]).stdout, "resumed\n")
            XCTAssertEqual(try run(["work", "--until-empty"]).status, 0)
            XCTAssertTrue(try run(["status"]).stdout.contains("done"))
            XCTAssertEqual(try run(["report", "--sql", "SELECT state FROM v_jobs", "--format", "csv"]).stdout, "state\ndone\n")
            XCTAssertEqual(try run(["prune"]).stdout, "1 checkpoints deleted\n")
            XCTAssertEqual(try run(["retry", "1"]).stdout, "0 jobs queued again\n")
            XCTAssertEqual(try run(["cancel", "1"]).stdout, "0 jobs cancelled or stopping\n")
            XCTAssertEqual(try run(["export", "--output-folder", dir]).stdout, "1 written, 0 already there\n")
        }
    }

    func testAMissingOrForeignLocationIsOneLine() throws {
        try assertOneLineFailure(["status"], mentions: ["--db", "KILN_DB"])
        try assertOneLineFailure(["report", "--db", "mysql://root:secret@db/x"], mentions: ["mysql://", "postgresql://"])
    }

    func testBadPostgresURLsNeverShowThePassword() throws {
        let server = try TestQueues.serverURL()
        var parts = try XCTUnwrap(URLComponents(string: server))
        // A closed port, a wrong password, a database that does not exist.
        let closed = "postgresql://kiln:hunter2@127.0.0.1:1/queue"
        parts.password = "hunter2"
        let wrongPassword = try XCTUnwrap(parts.string)
        let missing = try TestQueues.replaceDatabase(in: server, with: "no_such_queue")
        for (url, needle) in [(closed, "127.0.0.1:1"), (wrongPassword, "password"), (missing, "no_such_queue")] {
            for command in [["status"], ["work", "--until-empty"], ["enqueue", "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "x"]] {
                let r = try KilnProcess.run([command[0], "--db", url] + command.dropFirst())
                XCTAssertNotEqual(r.status, 0, "\(command) \(url)")
                XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
                XCTAssertTrue(r.stderr.contains(needle), r.stderr)
                XCTAssertFalse(r.stderr.contains("hunter2") || r.stdout.contains("hunter2"), r.stderr)
                if let real = URLComponents(string: server)?.password { XCTAssertFalse(r.stderr.contains(real), r.stderr) }
            }
        }
    }
}
