import Foundation
import KilnTestSupport
import XCTest

/// A worker meets a really full disk, under its output folder or under its SQLite queue: it waits
/// for space without using attempts, says so once, and finishes every job once space returns.
final class DiskFullTests: QueueTestCase {
    let model = Fixtures.model("tiny-sdxl-base")

    func sql(_ db: String, _ query: String) throws -> [String] { try KilnProcess.query(db, query) }

    func enqueue(_ db: String, _ args: [String]) throws {
        let r = try KilnProcess.run(["enqueue", "--db", db, "--model", model] + args)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func lines(_ log: String, containing text: String) -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init).filter { $0.contains(text) }
    }

    func waitFor(_ what: String, seconds: Double = 60, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("timed out waiting for \(what)")
    }

    /// The tester's scenario scaled down: 20 jobs into a full output folder (61 of 100 used to
    /// end failed within seconds). None fails, the worker stays alive, and after space returns
    /// every job is done with its first attempt.
    func testAFullOutputFolderHoldsTheJobsUntilSpaceReturns() throws {
        try onEachBackend { _ in
            let disk = try SmallDisk(at: dir + "/out", megabytes: 1)
            defer { disk.unmount() }
            let db = try queue("out_full"), log = dir + "/worker.log"
            for seed in 1...20 { try enqueue(db, ["--prompt", "x", "--steps", "2", "--width", "64", "--height", "64", "--seed", "\(seed)"]) }
            disk.fill()
            let worker = try KilnProcess.start(["work", "--db", db, "--until-empty", "--output-folder", disk.path, "--retry-backoff", "0.2"],
                                               stdoutFile: log)
            defer { worker.kill() }
            try waitFor("the worker to say the disk is full") { !lines(log, containing: "the disk is full").isEmpty }
            Thread.sleep(forTimeInterval: 3)  // time enough to churn through every job's attempts
            XCTAssertTrue(worker.isRunning, "the worker stays alive: \(worker.stderr)")
            XCTAssertEqual(try sql(db, "SELECT COUNT(*) FROM jobs WHERE state = 'failed' OR failures > 0"), ["0"], "no job failed")
            XCTAssertEqual(lines(log, containing: "the disk is full").count, 1, "one line, not a flood")
            disk.free()
            XCTAssertEqual(try worker.wait(timeout: 120), .exited(0), worker.stderr)
            XCTAssertEqual(try sql(db, "SELECT state, attempts, COUNT(*) FROM v_jobs GROUP BY state, attempts"), ["done,1,20"])
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: disk.path).filter { $0.hasSuffix(".png") }.count, 20)
        }
    }

    /// The queue's own disk fills while a job renders ("SQLite error 13: database or disk is
    /// full" used to end the worker with status 1 and the job left running): the worker holds
    /// the job under its lease, says so once, and finishes it when space returns.
    func testAFullDiskUnderTheSQLiteQueueIsWaitedOut() throws {
        let disk = try SmallDisk(at: dir + "/queue", megabytes: 4)
        defer { disk.unmount() }
        let db = disk.path + "/q.db", log = dir + "/worker.log"
        try enqueue(db, ["--prompt", "x", "--steps", "30", "--width", "128", "--height", "128", "--seed", "3"])
        try enqueue(db, ["--prompt", "y", "--steps", "2", "--width", "64", "--height", "64", "--seed", "4"])
        let worker = try KilnProcess.start(["work", "--db", db, "--until-empty", "--retry-backoff", "0.2"], stdoutFile: log)
        defer { worker.kill() }
        try waitFor("the first job's third step") { (Int(try sql(db, "SELECT step FROM jobs WHERE job_id = 1").first ?? "0") ?? 0) >= 3 }
        disk.fill()
        try waitFor("the worker to say the disk is full") { !lines(log, containing: "the disk is full").isEmpty || !worker.isRunning }
        Thread.sleep(forTimeInterval: 2)
        XCTAssertTrue(worker.isRunning, "the worker stays alive: \(worker.stderr)")
        XCTAssertEqual(lines(log, containing: "the disk is full").count, 1, "one line, not a flood")
        XCTAssertEqual(try sql(db, "SELECT state, failures FROM jobs WHERE job_id = 1"), ["running,0"], "held under its lease")
        disk.free()
        XCTAssertEqual(try worker.wait(timeout: 120), .exited(0), worker.stderr)
        XCTAssertEqual(try sql(db, "SELECT state, attempts, failures FROM jobs ORDER BY job_id"), ["done,1,0", "done,1,0"])
        XCTAssertEqual(try sql(db, "SELECT COUNT(*) FROM outputs WHERE png IS NOT NULL"), ["2"])
        XCTAssertEqual(try TestQueues.execute(db, "PRAGMA integrity_check"), ["ok"])
    }

    /// SQLite maps the queue's shared-memory file (-shm); cut short under a running worker, the
    /// process dies of SIGBUS inside libsqlite3, and no SQLite option avoids that while several
    /// processes share the queue (README: Render farm). The worker says so in one line, and the
    /// next worker finishes the job from its checkpoint with the queue intact.
    func testATruncatedSharedMemoryFileEndsTheWorkerWithOneLineAndNothingIsLost() throws {
        let db = dir + "/q.db"
        try enqueue(db, ["--prompt", "x", "--steps", "40", "--width", "256", "--height", "256", "--seed", "5"])
        let worker = try KilnProcess.start(["work", "--db", db, "--until-empty"])
        defer { worker.kill() }
        try waitFor("the job's third step") { (Int(try sql(db, "SELECT step FROM jobs").first ?? "0") ?? 0) >= 3 }
        XCTAssertEqual(truncate(db + "-shm", 0), 0)
        XCTAssertEqual(try worker.wait(timeout: 60), .signalled(SIGBUS), "SQLite's behaviour: \(worker.stderr)")
        let lines = worker.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, worker.stderr)
        XCTAssertTrue(lines.first?.hasPrefix("kiln work: bus error (SIGBUS): the queue's shared-memory file \(db)-shm was truncated") ?? false, worker.stderr)
        let next = try KilnProcess.run(["work", "--db", db, "--until-empty"])
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertEqual(try sql(db, "SELECT state, attempts FROM v_jobs"), ["done,2"])
        XCTAssertEqual(try TestQueues.execute(db, "PRAGMA integrity_check"), ["ok"])
    }
}
