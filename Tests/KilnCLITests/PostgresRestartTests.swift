import Foundation
import KilnTestSupport
import XCTest

/// `kiln work` on PostgreSQL outlives a restart of the server: a worker with a job renders on and
/// finishes it, an idle one waits for the server, each saying in its log when the server is lost
/// and when it is back. The server is `Tests/postgres.sh`'s, stopped and started with its
/// `KILN_TEST_POSTGRES_CTL` script.
final class PostgresRestartTests: XCTestCase {
    let model = Fixtures.model("tiny-sdxl-base")
    var dir = ""

    override func setUpWithError() throws {
        dir = try Fixtures.temporaryDirectory()
    }

    override func tearDown() {
        PostgresServerControl.ensureStarted()
        try? FileManager.default.removeItem(atPath: dir)
        super.tearDown()
    }

    func sql(_ db: String, _ query: String) throws -> [String] { try TestQueues.execute(db, query) }

    func enqueue(_ db: String, _ args: [String]) throws {
        let r = try KilnProcess.run(["enqueue", "--db", db, "--model", model] + args)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// Waits (at most a minute) until `jobs` jobs are done or the worker has ended.
    func waitUntilDone(_ db: String, _ worker: ChildProcess, jobs: Int) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, worker.isRunning, try sql(db, "SELECT count(*) FROM jobs WHERE state = 'done'") != ["\(jobs)"] {
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    func log(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func testAWorkerRendersThroughARestartAndFinishesItsJob() throws {
        let db = try TestQueues.location(.postgresql, "restart", in: dir), out = dir + "/worker.log"
        try enqueue(db, ["--prompt", "a lighthouse", "--steps", "40", "--seed", "11", "--width", "256", "--height", "256"])
        let worker = try KilnProcess.start(["work", "--db", db, "--until-empty"], stdoutFile: out)
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, worker.isRunning, (Int(try sql(db, "SELECT step FROM jobs").first ?? "0") ?? 0) < 3 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        try PostgresServerControl.run("stop")
        Thread.sleep(forTimeInterval: 2.5)
        XCTAssertTrue(worker.isRunning, "the worker outlives the server: \(worker.stderr)")
        try PostgresServerControl.run("start")
        XCTAssertEqual(try worker.status(timeout: 300), 0, worker.stderr)
        XCTAssertEqual(try sql(db, "SELECT state, attempts FROM v_jobs"), ["done|1"], "finished by the same worker, in one attempt")
        let text = log(out)
        XCTAssertEqual(text.components(separatedBy: "lost the queue's server (").count - 1, 1, text)
        XCTAssertEqual(text.components(separatedBy: "the queue's server is back (").count - 1, 1, text)
        XCTAssertTrue(text.contains("job 1 done"), text)
        // It rendered on while the server was away: the checkpoints due then were skipped.
        let saved = try XCTUnwrap(Int(try sql(db, "SELECT jsonb_array_length(step_seconds::jsonb) FROM jobs").first ?? ""))
        XCTAssertLessThan(saved, 40, "checkpoints skipped while the server was away")
    }

    /// The case: `pg_ctl restart -m fast` under two rendering workers.
    func testTwoWorkersOutliveAFastRestart() throws {
        let db = try TestQueues.location(.postgresql, "two", in: dir)
        for seed in ["1", "2"] {
            try enqueue(db, ["--prompt", "a lighthouse", "--steps", "30", "--seed", seed, "--width", "128", "--height", "128"])
        }
        let workers = try (0..<2).map { _ in try KilnProcess.start(["work", "--db", db, "--until-empty"]) }
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, workers.allSatisfy(\.isRunning), try sql(db, "SELECT count(*) FROM jobs WHERE step >= 2") != ["2"] {
            Thread.sleep(forTimeInterval: 0.05)
        }
        try PostgresServerControl.run("restart")
        for worker in workers { XCTAssertEqual(try worker.status(timeout: 300), 0, worker.stderr) }
        XCTAssertEqual(try sql(db, "SELECT state, attempts FROM v_jobs ORDER BY job_id"), ["done|1", "done|1"])
    }

    func testAnIdleWorkerWaitsOutAServerThatIsDownForSeconds() throws {
        let db = try TestQueues.location(.postgresql, "idle", in: dir), out = dir + "/worker.log"
        let tiny = ["--prompt", "x", "--steps", "1", "--width", "64", "--height", "64"]
        try enqueue(db, tiny)
        let worker = try KilnProcess.start(["work", "--db", db], stdoutFile: out)
        try waitUntilDone(db, worker, jobs: 1)
        try PostgresServerControl.run("stop")
        Thread.sleep(forTimeInterval: 5)
        XCTAssertTrue(worker.isRunning, "the idle worker waits for the server: \(worker.stderr)")
        try PostgresServerControl.run("start")
        try enqueue(db, tiny)
        try waitUntilDone(db, worker, jobs: 2)
        XCTAssertEqual(try sql(db, "SELECT state FROM jobs ORDER BY job_id"), ["done", "done"], "the worker took the job once the server was back")
        // Stopped by a signal while the server is away again, it ends at once, cleanly.
        try PostgresServerControl.run("stop")
        Thread.sleep(forTimeInterval: 1)
        worker.send(SIGTERM)
        let sent = Date()
        XCTAssertEqual(try worker.status(timeout: 60), 0, worker.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 2)
        try PostgresServerControl.run("start")
        let text = log(out)
        XCTAssertTrue(text.contains("lost the queue's server ("), text)
        XCTAssertTrue(text.contains("the queue's server is back ("), text)
        XCTAssertTrue(text.contains("job 2 done"), text)
        XCTAssertEqual(worker.stderr, "")
    }
}
