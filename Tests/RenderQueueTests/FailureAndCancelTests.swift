import Foundation
import GRDB
import Imaging
import KilnTestSupport
import ModelFiles
import Pipelines
import RenderQueue
import RenderWorker
import SQLiteQueue
import XCTest

/// Failures sorted into permanent and transient, cancels, retries, and jobs that used to stay
/// stuck, on every backend.
final class FailureAndCancelTests: QueueTestCase {
    func testPermanentFailuresFailAtOnceAndTransientOnesRetry() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            let a = try store.enqueue(model: "m", request: RenderRequest(prompt: "a"), priority: 1, maxAttempts: 3)
            let b = try store.enqueue(model: "m", request: RenderRequest(prompt: "b"), maxAttempts: 2)
            _ = try store.claim(worker: "w", leaseSeconds: 120)
            XCTAssertFalse(try store.fail(jobID: a, worker: "w", error: "m: file not found", kind: .permanent))
            let t0 = Date().timeIntervalSince1970
            _ = try store.claim(worker: "w", leaseSeconds: 120, now: t0)
            XCTAssertTrue(try store.fail(jobID: b, worker: "w", error: "disk full", kind: .transient, backoff: 30, now: t0))
            XCTAssertEqual(try report(location, "SELECT job_id, state, error_kind FROM v_jobs ORDER BY job_id"),
                           [["\(a)", "failed", "permanent"], ["\(b)", "queued", "transient"]])
            XCTAssertNil(try store.claim(worker: "w", leaseSeconds: 120, now: t0 + 29), "backoff 30 s")
            XCTAssertEqual(try store.claim(worker: "w", leaseSeconds: 120, now: t0 + 31)?.jobID, b)
            XCTAssertTrue(try store.fail(jobID: b, worker: "w", error: "full", kind: .transient, backoff: 30, untilDone: true, now: t0 + 31),
                          "a full disk does not use up attempts")
            XCTAssertNil(try store.claim(worker: "w", leaseSeconds: 120, now: t0 + 31 + 59), "backoff doubled to 60 s")
            XCTAssertEqual(try store.claim(worker: "w", leaseSeconds: 120, now: t0 + 31 + 61)?.jobID, b)
            XCTAssertFalse(try store.fail(jobID: b, worker: "w", error: "oom", kind: .transient, now: t0 + 100), "attempts used up")
            XCTAssertEqual(try report(location, "SELECT state, error FROM v_jobs WHERE job_id = \(b)"), [["failed", "oom"]])
            XCTAssertEqual(try store.retry(jobs: [a, b]), 2)
            XCTAssertEqual(try store.counts(), ["queued": 2])
        }
    }

    func testCancelQueuedAndRunningJobs() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            let running = try store.enqueue(model: "m", request: RenderRequest(prompt: "r"), priority: 1)
            let queued = try store.enqueue(model: "m", request: RenderRequest(prompt: "q"))
            _ = try store.claim(worker: "w", leaseSeconds: 120)
            XCTAssertEqual(try store.saveCheckpoint(jobID: running, worker: "w", stage: "base", step: 1, steps: 50, state: Data([1]),
                                                    stepSeconds: 1, leaseSeconds: 120), .keepGoing)
            XCTAssertEqual(try store.cancel(), 2)
            XCTAssertEqual(try report(location, "SELECT job_id, state FROM v_jobs ORDER BY job_id"),
                           [["\(running)", "running"], ["\(queued)", "cancelled"]])
            XCTAssertEqual(try store.saveCheckpoint(jobID: running, worker: "w", stage: "base", step: 2, steps: 50, state: Data([2]),
                                                    stepSeconds: 1, leaseSeconds: 120), .cancelled)
            try store.markCancelled(jobID: running, worker: "w")
            XCTAssertEqual(try store.counts(), ["cancelled": 2])
            XCTAssertEqual(try store.retry(JobSelection(jobs: [queued])), 1)
            XCTAssertEqual(try store.pruneCheckpoints(), 1, "the cancelled job's checkpoint")
        }
    }

    func testCancelledJobOfADeadWorkerIsCancelledAndCanBeRetried() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            let id = try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            let t0 = Date().timeIntervalSince1970 - 100
            XCTAssertEqual(try store.claim(worker: "gone", leaseSeconds: 10, now: t0)?.jobID, id)
            XCTAssertEqual(try store.cancel(jobs: [id]), 1, "running: cancel requested")
            XCTAssertEqual(try report(location, "SELECT state FROM jobs"), [["running"]])
            XCTAssertNil(try store.claim(worker: "b", leaseSeconds: 10), "a cancelled job is not rendered")
            XCTAssertEqual(try report(location, "SELECT state FROM jobs"), [["cancelled"]], "no longer running forever")
            XCTAssertEqual(try store.retry(jobs: [id]), 1)
            XCTAssertEqual(try store.claim(worker: "b", leaseSeconds: 10)?.jobID, id)
        }
    }

    func testRetryTakesBackACancelledJobWhoseLeaseRanOut() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            let id = try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            XCTAssertEqual(try store.claim(worker: "gone", leaseSeconds: 10, now: Date().timeIntervalSince1970 - 100)?.jobID, id)
            XCTAssertEqual(try store.cancel(jobs: [id]), 1)
            XCTAssertEqual(try store.retry(jobs: [id]), 1, "kiln retry no longer ignores it")
            XCTAssertEqual(try report(location, "SELECT state FROM jobs"), [["queued"]])
        }
    }

    func testAJobThatDoesNotDecodeFailsAloneAndTheNextRuns() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            try TestQueues.execute(location, "INSERT INTO jobs (model, request, steps, priority) VALUES ('m', '{\"version\": 2, \"prompt\": 7}', 1, 5)")
            let good = try store.enqueue(model: "m", request: RenderRequest(prompt: "fine"))
            XCTAssertEqual(try store.claim(worker: "w", leaseSeconds: 10)?.jobID, good)
            let failed = try report(location, "SELECT state, error FROM jobs WHERE job_id <> \(good)")
            XCTAssertEqual(failed.first?.first, "failed")
            let error = try XCTUnwrap(failed.first?.last ?? nil)
            XCTAssertTrue(error.hasPrefix("job 1: its stored request does not decode"), error)
        }
    }

    func testReportIsReadOnly() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            for sql in ["DELETE FROM jobs", "UPDATE jobs SET priority = 1", "DROP VIEW v_jobs", "DROP TABLE jobs",
                        "INSERT INTO queue_state (key, value) VALUES ('paused', '1')", "CREATE TABLE t (x INTEGER)"] {
                XCTAssertThrowsError(try report(location, sql), sql)
            }
            XCTAssertEqual(try report(location, "SELECT COUNT(*) AS n FROM v_jobs"), [["1"]])
            XCTAssertEqual(try store.counts(), ["queued": 1])
        }
    }

    func testErrorsAreSorted() {
        let permanent: [Error] = [
            RenderError.invalid(parameter: "width", reason: "bad"), RenderError.model("no unet"),
            ModelFileError.missingFile(path: "/m/unet/config.json", hint: "x"), ModelFileError.truncated(path: "/m/x", size: 3),
            ImagingError.corrupt(path: "in.png", reason: "crc"),
            DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "bad request")),
        ]
        for e in permanent { XCTAssertEqual(FailureKind.of(e), .permanent, "\(e)") }
        let transient: [Error] = [
            ImagingError.writeFailed(path: "/out/job-1-0.png", reason: "No space left on device"), DatabaseDiskFull("full"),
            DatabaseError(resultCode: .SQLITE_BUSY), DatabaseError(resultCode: .SQLITE_FULL),
            POSIXError(.ENOSPC), POSIXError(.ENOMEM), NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC)),
        ]
        for e in transient { XCTAssertEqual(FailureKind.of(e), .transient, "\(e)") }
        XCTAssertEqual(FailureKind.of(DatabaseError(resultCode: .SQLITE_CONSTRAINT)), .permanent)
        XCTAssertTrue(FailureKind.isDiskFull(DatabaseError(resultCode: .SQLITE_FULL)))
        XCTAssertTrue(FailureKind.isDiskFull(DatabaseDiskFull("full")))
    }
}
