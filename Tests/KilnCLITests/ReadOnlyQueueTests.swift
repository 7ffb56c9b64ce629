import Foundation
import KilnTestSupport
import XCTest

/// Commands that only read: they refuse a missing database instead of creating one, read a
/// database on a read-only file system, and stop a runaway query.
final class ReadOnlyQueueTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testReadingCommandsRefuseAMissingDatabase() throws {
        let db = dir + "/typo.db"
        for args in [["sheet", "--db", db, "--sweep", "1", "--x", "seed", "--y", "steps", "--output", dir + "/grid.png"],
                     ["status", "--db", db], ["report", "--db", db]] {
            let r = try KilnProcess.run(args)
            XCTAssertNotEqual(r.status, 0, args[0])
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(db) && r.stderr.contains("no such file"), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: db), "\(args[0]) created the database")
        }
    }

    /// Runs `body` with `file` copied onto a read-only tmpfs (needs root and mount; skipped otherwise).
    func onReadOnlyMount(_ file: String, _ body: (String) throws -> Void) throws {
        let mount = dir + "/ro"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        func sh(_ command: String) throws -> Int32 {
            try ChildProcess("/bin/sh", ["-c", command]).status()
        }
        guard try sh("mount -t tmpfs -o size=8m tmpfs '\(mount)'") == 0 else { throw XCTSkip("cannot mount a tmpfs here") }
        defer { _ = try? sh("umount '\(mount)'") }
        let name = (file as NSString).lastPathComponent
        XCTAssertEqual(try sh("cp '\(file)' '\(mount)/' && mount -o remount,ro '\(mount)'"), 0)
        try body(mount + "/" + name)
    }

    func testStatusAndReportWorkOnAReadOnlyDatabase() throws {
        let db = dir + "/q.db"
        XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "x"]).status, 0)
        try onReadOnlyMount(db) { readOnly in
            var r = try KilnProcess.run(["status", "--db", readOnly])
            XCTAssertEqual(r.status, 0, r.stderr)
            r = try KilnProcess.run(["report", "--db", readOnly, "--sql", "SELECT COUNT(*) AS n FROM v_jobs", "--format", "csv"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout.split(separator: "\n"), ["n", "1"])
        }
    }

    func testReportStopsARunawayQuery() throws {
        let db = dir + "/q.db"
        XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "x"]).status, 0)
        let start = Date()
        let r = try KilnProcess.run(["report", "--db", db, "--timeout", "1", "--sql",
                                     "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("--timeout"), r.stderr)
        XCTAssertNotEqual(try KilnProcess.run(["report", "--db", db, "--timeout", "0"]).status, 0)
    }
}
