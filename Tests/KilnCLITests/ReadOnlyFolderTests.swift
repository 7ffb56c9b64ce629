import Foundation
import KilnTestSupport
import XCTest

/// A queue in a folder the reading user cannot write (issue 21, item 11): SQLite cannot create
/// the WAL index (`-shm`) there, and `status`, `report`, `export` and `sheet` failed with
/// "attempt to write a readonly database". As root (CI) the commands run as `nobody` with the
/// folder root's; otherwise the folder is made read-only for its owner. Never skipped.
final class ReadOnlyFolderTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws {
        _ = chmod(dir + "/queue", 0o755)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// `kiln arguments` as a user who can read the queue's folder but not write it.
    func runAsReader(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let child: ChildProcess
        if getuid() == 0 {
            child = try ChildProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", KilnProcess.executable] + arguments)
        } else {
            child = try ChildProcess(KilnProcess.executable, arguments)
        }
        let status = try child.status()
        return (status, child.stdout, child.stderr)
    }

    func testReadingCommandsWorkInAFolderTheUserCannotWrite() throws {
        let folder = dir + "/queue", out = dir + "/out", db = folder + "/q.db"
        for path in [folder, out] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        let spec = dir + "/spec.yaml"
        try "model: \(Fixtures.model("tiny-sdxl-base"))\nbase: {prompt: a fox, width: 64, height: 64, steps: 1}\naxes:\n  seed: [1, 2]\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        XCTAssertEqual(try KilnProcess.run(["sweep", "--db", db, spec]).status, 0)
        let work = try KilnProcess.run(["work", "--db", db, "--until-empty"])
        XCTAssertEqual(work.status, 0, work.stderr)
        // The reading user may write `out` (for export and sheet) but not the queue's folder.
        XCTAssertEqual(chmod(out, 0o777), 0)
        XCTAssertEqual(chmod(dir, 0o755), 0)
        if getuid() != 0 { XCTAssertEqual(chmod(folder, 0o555), 0) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: db + "-shm"), "a clean exit removes the WAL files")

        func readEverything(_ when: String) throws {
            var r = try runAsReader(["status", "--db", db])
            XCTAssertEqual(r.status, 0, "\(when): status: \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("done"), "\(when): \(r.stdout)")
            r = try runAsReader(["report", "--db", db, "--sql", "SELECT COUNT(*) AS n FROM v_outputs", "--format", "csv"])
            XCTAssertEqual(r.status, 0, "\(when): report: \(r.stderr)")
            XCTAssertEqual(r.stdout, "n\n2\n", when)
            r = try runAsReader(["export", "--db", db, "--output-folder", out])
            XCTAssertEqual(r.status, 0, "\(when): export: \(r.stderr)")
            XCTAssertTrue(r.stdout.hasPrefix("2 written") || r.stdout.hasPrefix("0 written, 2 already there"), "\(when): \(r.stdout)")
            r = try runAsReader(["sheet", "--db", db, "--sweep", "1", "--x", "seed", "--y", "steps", "--cell-size", "64",
                                 "--output", out + "/sheet.png"])
            XCTAssertEqual(r.status, 0, "\(when): sheet: \(r.stderr)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/sheet.png"), when)
            try? FileManager.default.removeItem(atPath: out + "/sheet.png")
            XCTAssertFalse(FileManager.default.fileExists(atPath: db + "-journal"), when)
        }

        try readEverything("without -wal and -shm")
        // A worker waiting for work holds the queue open: the -wal and -shm files exist, and a
        // change made meanwhile is seen.
        if getuid() != 0 { XCTAssertEqual(chmod(folder, 0o755), 0) }
        let worker = try KilnProcess.start(["work", "--db", db])
        defer { worker.kill() }
        let start = Date()
        while !FileManager.default.fileExists(atPath: db + "-shm"), Date().timeIntervalSince(start) < 30 { usleep(50_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: db + "-shm"))
        XCTAssertEqual(try KilnProcess.run(["pause", "--db", db]).status, 0)
        XCTAssertEqual(try KilnProcess.run(["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "x"]).status, 0)
        if getuid() != 0 { XCTAssertEqual(chmod(folder, 0o555), 0) }
        try readEverything("with -wal and -shm")
        let jobs = try runAsReader(["report", "--db", db, "--sql", "SELECT COUNT(*) AS n FROM v_jobs", "--format", "csv"])
        XCTAssertEqual(jobs.stdout, "n\n3\n", "the job enqueued while the worker holds the queue open: \(jobs.stderr)")
    }
}
