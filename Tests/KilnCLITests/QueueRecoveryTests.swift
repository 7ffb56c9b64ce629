import Foundation
import KilnTestSupport
import XCTest

/// Dead workers taken over at once, gentle stops on signals, and failures sorted into permanent
/// and transient, through real `kiln` processes.
final class QueueRecoveryTests: QueueTestCase {
    let model = Fixtures.model("tiny-sdxl-base")
    let job = ["--prompt", "a lighthouse", "--steps", "40", "--seed", "11", "--width", "256", "--height", "256", "--scheduler", "euler-a"]

    func sql(_ db: String, _ query: String) throws -> [String] { try KilnProcess.query(db, query) }

    func enqueue(_ db: String, model: String? = nil, _ args: [String]) throws {
        let r = try KilnProcess.run(["enqueue", "--db", db, "--model", model ?? self.model] + args)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// A `kiln` process started in the background, its stdout going to `stdout` (a file) if given.
    func start(_ args: [String], stdout: String? = nil, environment: [String: String] = [:]) throws -> ChildProcess {
        try KilnProcess.start(args, environment: environment, stdoutFile: stdout)
    }

    func waitForStep(_ db: String, atLeast target: Int) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, (Int(try sql(db, "SELECT step FROM jobs").first ?? "0") ?? 0) < target {
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The output of the job rendered without interruption in its own database.
    func reference() throws -> [String] {
        let db = try queue("straight")
        try enqueue(db, job)
        XCTAssertEqual(try KilnProcess.run(["work", "--db", db, "--until-empty"]).status, 0)
        return try sql(db, "SELECT output_sha256 FROM v_outputs")
    }

    func testKilledWorkerIsTakenOverAtOnceOnTheSameHost() throws {
        try onEachBackend { _ in
            let expected = try reference()
            let db = try queue("crashed")
            try enqueue(db, job)
            let first = try start(["work", "--db", db, "--until-empty"])  // the default 120 s lease
            try waitForStep(db, atLeast: 8)
            first.send(SIGKILL)
            try first.wait()
            let started = Date()
            let second = try start(["work", "--db", db, "--until-empty"])
            var resumedAfter: Double?
            while Date().timeIntervalSince(started) < 10 {
                if try sql(db, "SELECT attempts FROM jobs") == ["2"] { resumedAfter = Date().timeIntervalSince(started); break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            try second.wait()
            XCTAssertEqual(try second.status(), 0)
            let seconds = try XCTUnwrap(resumedAfter, "the job was not taken over")
            XCTAssertLessThan(seconds, 2, "resumed within 2 s")
            XCTAssertEqual(try sql(db, "SELECT state, attempts FROM v_jobs"), ["done,2"])
            XCTAssertEqual(try sql(db, "SELECT output_sha256 FROM v_outputs"), expected, "byte-identical to an uninterrupted render")
        }
    }

    func testUntilEmptyWaitsForAJobRunningUnderALease() throws {
        try onEachBackend { _ in
            let db = try queue("wait")
            try enqueue(db, job)
            // A worker on another host (as far as the queue knows) that stops renewing: the job is
            // taken when its lease expires, and --until-empty waits for that instead of exiting.
            let first = try start(["work", "--db", db, "--until-empty", "--lease", "2"])
            try waitForStep(db, atLeast: 3)
            first.send(SIGSTOP)
            defer { first.kill() }
            let second = try KilnProcess.run(["work", "--db", db, "--until-empty", "--lease", "2"])
            XCTAssertEqual(second.status, 0, second.stderr)
            XCTAssertTrue(second.stdout.contains("job 1 done"), second.stdout)
            XCTAssertEqual(try sql(db, "SELECT state FROM jobs"), ["done"])
        }
    }

    func testSIGTERMPutsTheJobBackAndANewWorkerFinishesIt() throws {
        try onEachBackend { _ in
            let expected = try reference()
            let db = try queue("term"), log = dir + "/worker.log"
            try enqueue(db, job)
            let worker = try start(["work", "--db", db, "--until-empty"], stdout: log)
            try waitForStep(db, atLeast: 5)
            worker.send(SIGTERM)
            XCTAssertEqual(try worker.wait(), .exited(0), "exits, not killed by the signal")
            let row = try sql(db, "SELECT state, worker IS NULL, stage, step > 0 AND step < steps FROM v_jobs")
            XCTAssertEqual(row, ["queued,1,base,1"], "back in the queue with its checkpoint")
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.count, 2, lines.joined(separator: "\n"))
            let step = try XCTUnwrap(try sql(db, "SELECT step FROM jobs").first)
            XCTAssertEqual(lines.first.map(String.init), "job 1 back in the queue at step \(step)/40 (stop requested)")
            XCTAssertEqual(lines.last, "0 jobs, models built: 1", "stdout flushed")
            let rest = try KilnProcess.run(["work", "--db", db, "--until-empty"])
            XCTAssertEqual(rest.status, 0, rest.stderr)
            XCTAssertEqual(try sql(db, "SELECT state, attempts FROM v_jobs"), ["done,2"])
            XCTAssertEqual(try sql(db, "SELECT output_sha256 FROM v_outputs"), expected, "identical to an uninterrupted render")
        }
    }

    func testInterruptedRenderLeavesNoFile() throws {
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let render = try start(["render", "--model", model, "--prompt", "x", "--steps", "400", "--width", "256", "--height", "256",
                                "--output", out + "/x.png"])
        Thread.sleep(forTimeInterval: 1.5)
        render.send(SIGINT)
        XCTAssertEqual(try render.wait(), .exited(130), "stops at a step, not killed by the signal")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), [], "no file, not even a temporary one")
    }

    func testDeletedModelFolderFailsAtOnceAndTheNextJobRuns() throws {
        try onEachBackend { _ in
            let db = try queue("gone"), gone = dir + "/gone-model"
            try FileManager.default.copyItem(atPath: model, toPath: gone)
            try enqueue(db, model: gone, ["--prompt", "x", "--steps", "1", "--priority", "5"])  // 3 attempts allowed
            try enqueue(db, ["--prompt", "fine", "--steps", "1", "--width", "64", "--height", "64"])
            try FileManager.default.removeItem(atPath: gone)
            let r = try KilnProcess.run(["work", "--db", db, "--until-empty"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try sql(db, "SELECT state, attempts, error_kind, CASE WHEN error LIKE '%' || '\(gone)' || '%' THEN 1 ELSE 0 END FROM v_jobs ORDER BY job_id"),
                           ["failed,1,permanent,1", "done,1,,0"])
            XCTAssertTrue(r.stdout.contains("job 1 failed (permanent): "), r.stdout)
        }
    }

    func testTransientWriteFailureIsRetriedAndSucceeds() throws {
        try onEachBackend { _ in
            let db = try queue("full"), out = dir + "/images"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try enqueue(db, ["--prompt", "x", "--steps", "2", "--width", "64", "--height", "64"])
            let log = dir + "/worker.log"
            let worker = try start(["work", "--db", db, "--until-empty", "--output-folder", out, "--retry-backoff", "1"], stdout: log,
                                   environment: ["KILN_TEST_ENOSPC_WRITES": "1"])
            try worker.wait()
            XCTAssertEqual(try worker.status(), 0)
            let text = try String(contentsOfFile: log, encoding: .utf8)
            // A full disk is waited out where it is met: the image is written again, no attempt used.
            XCTAssertTrue(text.contains("warning: job 1, writing \(out)/job-1-0.png: the disk is full (\(out)/job-1-0.png: cannot be written (No space left on device)"), text)
            XCTAssertTrue(text.contains("job 1 done"), text)
            XCTAssertEqual(try sql(db, "SELECT state, attempts, error IS NULL, error_kind IS NULL FROM v_jobs"), ["done,1,1,1"])
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), ["job-1-0.png"])
        }
    }

    /// A disk that stays full for longer than the job's attempts is waited out: the job keeps
    /// its checkpoint and goes on once space returns, instead of failing for good.
    func testAFullDiskIsWaitedOutBeyondTheJobsAttempts() throws {
        try onEachBackend { _ in
            let db = try queue("full"), out = dir + "/images"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try enqueue(db, ["--prompt", "x", "--steps", "2", "--width", "64", "--height", "64", "--max-attempts", "1"])
            let log = dir + "/worker.log"
            let worker = try start(["work", "--db", db, "--until-empty", "--output-folder", out, "--retry-backoff", "0.1"], stdout: log,
                                   environment: ["KILN_TEST_ENOSPC_WRITES": "3"])
            try worker.wait()
            XCTAssertEqual(try worker.status(), 0)
            let text = try String(contentsOfFile: log, encoding: .utf8)
            XCTAssertEqual(text.components(separatedBy: "(No space left on device)").count - 1, 1, "said once: \(text)")
            XCTAssertTrue(text.contains("job 1 done"), text)
            XCTAssertEqual(try sql(db, "SELECT state, attempts FROM v_jobs"), ["done,1"])
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), ["job-1-0.png"])
        }
    }

    func testFullDatabaseIsTransientToo() throws {
        try onEachBackend { _ in
            let db = try queue("full_db"), log = dir + "/worker.log"
            try enqueue(db, ["--prompt", "x", "--steps", "2", "--width", "64", "--height", "64"])
            let worker = try start(["work", "--db", db, "--until-empty", "--retry-backoff", "0.5"], stdout: log,
                                   environment: ["KILN_TEST_ENOSPC_WRITES": "1"])
            try worker.wait()
            XCTAssertEqual(try worker.status(), 0)
            let text = try String(contentsOfFile: log, encoding: .utf8)
            XCTAssertTrue(text.contains("warning: job 1, storing its outputs: the disk is full (database or disk is full"), text)
            XCTAssertEqual(try sql(db, "SELECT state, attempts FROM v_jobs"), ["done,1"])
            XCTAssertEqual(try sql(db, "SELECT COUNT(*) FROM outputs WHERE png IS NOT NULL"), ["1"], "the image is kept in the database")
        }
    }
}
