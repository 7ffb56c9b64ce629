import Foundation
import KilnTestSupport
import XCTest

/// A second SIGTERM ends `kiln work` at once even while its compute threads are busy with a long
/// VAE decode (a 512 px image on the tiny model: about 8 s in a debug build, its one step about
/// 3 s), putting the job back in the queue with its last checkpoint; one signal still lets the
/// job finish.
final class SecondSignalTests: QueueTestCase {
    let model = Fixtures.model("tiny-sdxl-base")
    let job = ["--prompt", "a harbour", "--steps", "1", "--seed", "5", "--width", "512", "--height", "512", "--scheduler", "euler"]

    func sql(_ db: String, _ query: String) throws -> [String] { try KilnProcess.query(db, query) }

    /// A worker on a queue holding one big job, once its last step is checkpointed (the decode
    /// is then under way).
    func workerDecoding(_ db: String, log: String) throws -> ChildProcess {
        let r = try KilnProcess.run(["enqueue", "--db", db, "--model", model] + job)
        XCTAssertEqual(r.status, 0, r.stderr)
        let worker = try KilnProcess.start(["work", "--db", db, "--until-empty"], stdoutFile: log)
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, worker.isRunning, try sql(db, "SELECT CASE WHEN step = steps THEN 1 ELSE 0 END FROM jobs") != ["1"] {
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(worker.isRunning, "still decoding: \(worker.stderr)")
        return worker
    }

    func testSecondSIGTERMDuringTheDecodeEndsTheWorkerAtOnce() throws {
        try onEachBackend { _ in
            let db = try queue("second"), log = dir + "/worker.log"
            let worker = try workerDecoding(db, log: log)
            worker.send(SIGTERM)
            Thread.sleep(forTimeInterval: 0.5)
            XCTAssertTrue(worker.isRunning, "one signal lets the decode go on")
            let sent = Date()
            worker.send(SIGTERM)
            let ending = try worker.wait(timeout: 60)
            let seconds = Date().timeIntervalSince(sent)
            XCTAssertLessThan(seconds, 1.5, "ended \(seconds) s after the second signal")
            XCTAssertEqual(ending, .signalled(SIGTERM), "ended by the signal")
            XCTAssertEqual(try sql(db, "SELECT state, worker IS NULL, stage, step, steps FROM v_jobs"), ["queued,1,base,1,1"],
                           "back in the queue with its last checkpoint")
            XCTAssertEqual(try sql(db, "SELECT COUNT(*) FROM outputs"), ["0"])
        }
    }

    func testOneSIGTERMDuringTheDecodeStillFinishesTheJob() throws {
        let db = try queue("one"), log = dir + "/worker.log"
        let worker = try workerDecoding(db, log: log)
        let sent = Date()
        worker.send(SIGTERM)
        XCTAssertEqual(try worker.wait(timeout: 120), .exited(0))
        print("one signal: the worker ended \(Date().timeIntervalSince(sent)) s after it")
        XCTAssertEqual(try sql(db, "SELECT state FROM jobs"), ["done"])
        let text = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(text.contains("job 1 done"), text)
    }
}
