import Foundation
@testable import Gallery
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

    /// This host as a worker records it in `lease_host` (see WorkerIdentity.current).
    static var host: String {
        var buffer = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buffer, 255) == 0 ? String(cString: buffer) : "localhost"
        guard let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid"), ns.hasPrefix("pid:[") else { return name }
        return name + " " + ns
    }

    /// `status` marks a running job whose worker is gone (a dead pid on this host, or an expired
    /// lease) and gives it no ETA; a live worker's job keeps its ETA.
    func testStatusMarksJobsWhoseWorkerIsGone() throws {
        let dead = try ChildProcess("/bin/true", [])
        _ = try dead.status()
        try onEachBackend { _ in
            let db = try queue("gone")
            for _ in 0..<3 {
                let r = try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "x", "--steps", "10"])
                XCTAssertEqual(r.status, 0, r.stderr)
            }
            let now = dialect("CAST(strftime('%s', 'now') AS REAL)", "extract(epoch from now())")
            let host = Self.host.replacingOccurrences(of: "'", with: "''")
            for (job, pid, expires) in [(1, dead.pid, "+ 600"), (2, getpid(), "- 60"), (3, getpid(), "+ 600")] {
                try TestQueues.execute(db, """
                    UPDATE jobs SET state = 'running', step = 3, lease_owner = 'w\(job)', lease_expires = \(now) \(expires),
                        lease_host = '\(job == 2 ? "elsewhere" : host)', lease_pid = \(pid), step_seconds = '[1.0,2.0]' WHERE job_id = \(job)
                    """)
            }
            let r = try KilnProcess.run(["status", "--db", db])
            XCTAssertEqual(r.status, 0, r.stderr)
            let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            XCTAssertTrue(lines.contains("running job 1 step 3/10 on w1 (worker gone) NULL NULL"), r.stdout)
            XCTAssertTrue(lines.contains("running job 2 step 3/10 on w2 (worker gone) NULL NULL"), r.stdout)
            XCTAssertTrue(lines.contains("running job 3 step 3/10 on w3 NULL 10.5"), r.stdout)
        }
    }

    /// A `--sql` with two statements is refused in Kiln's words, not GRDB's or the server's.
    func testReportRefusesSeveralStatementsInItsOwnWords() throws {
        try onEachBackend { _ in
            let db = try queue("multi")
            XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "x"]).status, 0)
            for sql in ["SELECT 1; SELECT 2", "SELECT 1; DELETE FROM jobs", "SELECT 1; not sql at all"] {
                let r = try KilnProcess.run(["report", "--db", db, "--sql", sql])
                XCTAssertNotEqual(r.status, 0, sql)
                XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
                XCTAssertTrue(r.stderr.contains("--sql takes one statement"), "\(sql): \(r.stderr)")
                XCTAssertFalse(r.stderr.contains("Database.execute"), r.stderr)
            }
            XCTAssertEqual(try KilnProcess.query(db, "SELECT COUNT(*) FROM jobs"), ["1"])
        }
    }

    /// The commands that only read call a 0-byte file (or an empty database) no Kiln queue,
    /// instead of "no such table: jobs".
    func testReadersCallAnEmptyFileNotAKilnQueue() throws {
        let db = dir + "/empty.db"
        XCTAssertTrue(FileManager.default.createFile(atPath: db, contents: Data()))
        for args in [["status", "--db", db], ["report", "--db", db], ["export", "--db", db, "--output-folder", dir],
                     ["sheet", "--db", db, "--sweep", "1", "--x", "seed", "--y", "steps", "--output", dir + "/grid.png"]] {
            try assertOneLineFailure(args, mentions: [db, "not a Kiln queue"])
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)).count, 0)
    }

    /// Gallery ids run to Int64.max (19 digits): such an id that names nothing is "no such
    /// image" (the route's answer for an unknown id), and only a larger number is no id.
    func testGalleryIdsTakeEveryInt64() {
        XCTAssertEqual(Identifier.parse("9223372036854775807"), Int64.max)
        XCTAssertEqual(Identifier.parse("1000000000000000000"), 1_000_000_000_000_000_000)
        XCTAssertNil(Identifier.parse("9223372036854775808"))
        XCTAssertNil(Identifier.parse("99999999999999999999"))
        XCTAssertNil(Identifier.parse("0"))
    }

    /// `report --format csv|json` writes rows as the database hands them over: a query that
    /// never ends has printed many rows by the time `--timeout` stops it (buffered, it printed
    /// nothing); a JSON report parses back to the rows the CSV one holds.
    func testReportStreamsRows() throws {
        try onEachBackend { backend in
            let db = try queue("stream")
            for seed in ["1", "2"] {
                XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "a \"kiln\"\n\\ at night",
                                                    "--seed", seed]).status, 0)
            }
            // 2,000 rows, then a search for more that never ends.
            let endless = dialect("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r WHERE n <= 2000",
                                  "SELECT n FROM (SELECT generate_series(1, 9223372036854775807) AS n) s WHERE n <= 2000")
            for format in ["csv", "json"] {
                let r = try KilnProcess.run(["report", "--db", db, "--format", format, "--timeout", "1", "--sql", endless])
                XCTAssertNotEqual(r.status, 0, format)
                XCTAssertTrue(r.stderr.contains("--timeout"), r.stderr)
                let rows = format == "csv" ? r.stdout.split(separator: "\n").count - 1 : r.stdout.components(separatedBy: "{\"n\":").count - 1
                // PostgreSQL sends rows in 8 KB messages, so the last few may die with the statement.
                if backend == .sqlite { XCTAssertEqual(rows, 2000, format) } else { XCTAssertGreaterThan(rows, 500, format) }
            }
            let sql = "SELECT job_id, prompt, seed, NULL AS absent FROM v_jobs ORDER BY job_id"
            let json = try KilnProcess.run(["report", "--db", db, "--format", "json", "--sql", sql])
            XCTAssertEqual(json.status, 0, json.stderr)
            let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], json.stdout)
            XCTAssertEqual(rows.map { $0["job_id"] as? String }, ["1", "2"])
            XCTAssertEqual(rows.map { $0["seed"] as? String }, ["1", "2"])
            XCTAssertEqual(rows.map { $0["prompt"] as? String }, ["a \"kiln\"\n\\ at night", "a \"kiln\"\n\\ at night"])
            XCTAssertTrue(rows.allSatisfy { $0["absent"] is NSNull })
            XCTAssertTrue(json.stdout.hasPrefix(#"[{"job_id":"1","prompt":"a \"kiln\"\n\\ at night","seed":"1","absent":null}"#), json.stdout)
        }
    }
}
