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
    func testPermanentFailuresFailAtOnceAndTransientOnesRetry() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            let a = try await store.enqueue(model: "m", request: RenderRequest(prompt: "a"), priority: 1, maxAttempts: 3)
            let b = try await store.enqueue(model: "m", request: RenderRequest(prompt: "b"), maxAttempts: 2)
            _ = try await store.claim(worker: "w", leaseSeconds: 120)
            let permanent = try await store.fail(jobID: a, worker: "w", error: "m: file not found", kind: .permanent)
            XCTAssertFalse(permanent)
            let t0 = Date().timeIntervalSince1970
            _ = try await store.claim(worker: "w", leaseSeconds: 120, now: t0)
            let transient = try await store.fail(jobID: b, worker: "w", error: "disk full", kind: .transient, backoff: 30, now: t0)
            XCTAssertTrue(transient)
            let states = try await report(location, "SELECT job_id, state, error_kind FROM v_jobs ORDER BY job_id")
            XCTAssertEqual(states, [["\(a)", "failed", "permanent"], ["\(b)", "queued", "transient"]])
            let inBackoff = try await store.claim(worker: "w", leaseSeconds: 120, now: t0 + 29)
            XCTAssertNil(inBackoff, "backoff 30 s")
            let afterBackoff = try await store.claim(worker: "w", leaseSeconds: 120, now: t0 + 31)
            XCTAssertEqual(afterBackoff?.jobID, b)
            let fullDisk = try await store.fail(jobID: b, worker: "w", error: "full", kind: .transient, backoff: 30, untilDone: true, now: t0 + 31)
            XCTAssertTrue(fullDisk, "a full disk does not use up attempts")
            let inDoubledBackoff = try await store.claim(worker: "w", leaseSeconds: 120, now: t0 + 31 + 59)
            XCTAssertNil(inDoubledBackoff, "backoff doubled to 60 s")
            let afterDoubledBackoff = try await store.claim(worker: "w", leaseSeconds: 120, now: t0 + 31 + 61)
            XCTAssertEqual(afterDoubledBackoff?.jobID, b)
            let usedUp = try await store.fail(jobID: b, worker: "w", error: "oom", kind: .transient, now: t0 + 100)
            XCTAssertFalse(usedUp, "attempts used up")
            let failed = try await report(location, "SELECT state, error FROM v_jobs WHERE job_id = \(b)")
            XCTAssertEqual(failed, [["failed", "oom"]])
            let retried = try await store.retry(jobs: [a, b])
            XCTAssertEqual(retried, 2)
            let counts = try await store.counts()
            XCTAssertEqual(counts, ["queued": 2])
        }
    }

    func testCancelQueuedAndRunningJobs() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            let running = try await store.enqueue(model: "m", request: RenderRequest(prompt: "r"), priority: 1)
            let queued = try await store.enqueue(model: "m", request: RenderRequest(prompt: "q"))
            _ = try await store.claim(worker: "w", leaseSeconds: 120)
            let before = try await store.saveCheckpoint(jobID: running, worker: "w", stage: "base", step: 1, steps: 50, state: Data([1]),
                                                        stepSeconds: 1, leaseSeconds: 120)
            XCTAssertEqual(before, .keepGoing)
            let cancelled = try await store.cancel()
            XCTAssertEqual(cancelled, 2)
            let states = try await report(location, "SELECT job_id, state FROM v_jobs ORDER BY job_id")
            XCTAssertEqual(states, [["\(running)", "running"], ["\(queued)", "cancelled"]])
            let after = try await store.saveCheckpoint(jobID: running, worker: "w", stage: "base", step: 2, steps: 50, state: Data([2]),
                                                       stepSeconds: 1, leaseSeconds: 120)
            XCTAssertEqual(after, .cancelled)
            try await store.markCancelled(jobID: running, worker: "w")
            let counts = try await store.counts()
            XCTAssertEqual(counts, ["cancelled": 2])
            let retried = try await store.retry(JobSelection(jobs: [queued]))
            XCTAssertEqual(retried, 1)
            let pruned = try await store.pruneCheckpoints()
            XCTAssertEqual(pruned, 1, "the cancelled job's checkpoint")
        }
    }

    func testCancelledJobOfADeadWorkerIsCancelledAndCanBeRetried() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            let id = try await store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            let t0 = Date().timeIntervalSince1970 - 100
            let gone = try await store.claim(worker: "gone", leaseSeconds: 10, now: t0)
            XCTAssertEqual(gone?.jobID, id)
            let cancelled = try await store.cancel(jobs: [id])
            XCTAssertEqual(cancelled, 1, "running: cancel requested")
            let requested = try await report(location, "SELECT state FROM jobs")
            XCTAssertEqual(requested, [["running"]])
            let none = try await store.claim(worker: "b", leaseSeconds: 10)
            XCTAssertNil(none, "a cancelled job is not rendered")
            let state = try await report(location, "SELECT state FROM jobs")
            XCTAssertEqual(state, [["cancelled"]], "no longer running forever")
            let retried = try await store.retry(jobs: [id])
            XCTAssertEqual(retried, 1)
            let again = try await store.claim(worker: "b", leaseSeconds: 10)
            XCTAssertEqual(again?.jobID, id)
        }
    }

    func testRetryTakesBackACancelledJobWhoseLeaseRanOut() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            let id = try await store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            let gone = try await store.claim(worker: "gone", leaseSeconds: 10, now: Date().timeIntervalSince1970 - 100)
            XCTAssertEqual(gone?.jobID, id)
            let cancelled = try await store.cancel(jobs: [id])
            XCTAssertEqual(cancelled, 1)
            let retried = try await store.retry(jobs: [id])
            XCTAssertEqual(retried, 1, "kiln retry no longer ignores it")
            let state = try await report(location, "SELECT state FROM jobs")
            XCTAssertEqual(state, [["queued"]])
        }
    }

    func testAJobThatDoesNotDecodeFailsAloneAndTheNextRuns() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            try TestQueues.execute(location, "INSERT INTO jobs (model, request, steps, priority) VALUES ('m', '{\"version\": 2, \"prompt\": 7}', 1, 5)")
            let good = try await store.enqueue(model: "m", request: RenderRequest(prompt: "fine"))
            let claimed = try await store.claim(worker: "w", leaseSeconds: 10)
            XCTAssertEqual(claimed?.jobID, good)
            let failed = try await report(location, "SELECT state, error FROM jobs WHERE job_id <> \(good)")
            XCTAssertEqual(failed.first?.first, "failed")
            let error = try XCTUnwrap(failed.first?.last ?? nil)
            XCTAssertTrue(error.hasPrefix("job 1: its stored request does not decode"), error)
        }
    }

    func testReportIsReadOnly() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            try await store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            for sql in ["DELETE FROM jobs", "UPDATE jobs SET priority = 1", "DROP VIEW v_jobs", "DROP TABLE jobs",
                        "INSERT INTO queue_state (key, value) VALUES ('paused', '1')", "CREATE TABLE t (x INTEGER)"] {
                await XCTAssertThrowsErrorAsync(try await report(location, sql), sql)
            }
            let rows = try await report(location, "SELECT COUNT(*) AS n FROM v_jobs")
            XCTAssertEqual(rows, [["1"]])
            let counts = try await store.counts()
            XCTAssertEqual(counts, ["queued": 1])
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
