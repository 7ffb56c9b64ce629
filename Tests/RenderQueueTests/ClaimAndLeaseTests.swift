import Foundation
import KilnTestSupport
import Pipelines
import RenderQueue
import XCTest

/// Claims, leases, pauses and releases, on every backend.
final class ClaimAndLeaseTests: QueueTestCase {
    /// The id of a process that has exited (and been reaped).
    func deadPID() throws -> Int32 {
        let p = try ChildProcess("/bin/true", [])
        try p.wait()
        return p.pid
    }

    func testClaimOrderLeaseExpiryAndPause() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            let low = try store.enqueue(model: "m", request: RenderRequest(prompt: "low"))
            let high = try store.enqueue(model: "m", request: RenderRequest(prompt: "high"), priority: 9)
            let t0 = Date().timeIntervalSince1970
            XCTAssertEqual(try store.claim(worker: "a", leaseSeconds: 10, now: t0)?.jobID, high)
            XCTAssertEqual(try store.claim(worker: "b", leaseSeconds: 10, now: t0)?.jobID, low)
            XCTAssertNil(try store.claim(worker: "c", leaseSeconds: 10, now: t0), "both leased")
            let reclaimed = try store.claim(worker: "c", leaseSeconds: 10, now: t0 + 11)
            XCTAssertEqual(reclaimed?.jobID, high, "an expired lease is claimed again")
            XCTAssertEqual(reclaimed?.attempt, 2)
            XCTAssertFalse(try store.renewLease(jobID: high, worker: "a", leaseSeconds: 10), "the first worker lost it")
            XCTAssertTrue(try store.renewLease(jobID: high, worker: "c", leaseSeconds: 10))
            try store.setPaused(true, sweep: nil)
            XCTAssertNil(try store.claim(worker: "d", leaseSeconds: 10, now: t0 + 100), "paused queue")
            XCTAssertFalse(try store.hasPendingWork(), "a paused queue has nothing to wait for")
            try store.setPaused(false, sweep: nil)
            XCTAssertNotNil(try store.claim(worker: "d", leaseSeconds: 10, now: t0 + 100))
            XCTAssertThrowsError(try store.setPaused(true, sweep: 99), "no such sweep")
            XCTAssertEqual(try report(location, "SELECT COUNT(*) FROM v_jobs WHERE state = 'running'"), [["2"]])
        }
    }

    func testJobOfADeadProcessOnThisHostIsTakenOverAtOnce() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            let job = try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            let t0 = Date().timeIntervalSince1970
            let dead = WorkerIdentity(host: "render-1", pid: try deadPID())
            XCTAssertEqual(try store.claim(worker: "a", leaseSeconds: 120, now: t0, identity: dead)?.jobID, job)
            XCTAssertNil(try store.claim(worker: "b", leaseSeconds: 120, now: t0 + 1, identity: WorkerIdentity(host: "render-2", pid: getpid())),
                         "another host waits for the lease to expire")
            let taken = try store.claim(worker: "c", leaseSeconds: 120, now: t0 + 1, identity: WorkerIdentity(host: "render-1", pid: getpid()))
            XCTAssertEqual(taken?.jobID, job, "the same host sees the process is gone")
            XCTAssertEqual(taken?.attempt, 2)
            XCTAssertEqual(try report(location, "SELECT lease_owner, lease_pid FROM jobs"), [["c", "\(getpid())"]])
            XCTAssertNil(try store.claim(worker: "d", leaseSeconds: 120, now: t0 + 2, identity: WorkerIdentity(host: "render-1", pid: getpid())),
                         "a live process keeps its job")
        }
    }

    func testIdentityNamesTheHostAndItsProcessNamespace() throws {
        let me = WorkerIdentity.current
        XCTAssertEqual(me.pid, getpid())
        XCTAssertTrue(me.host.hasPrefix(WorkerIdentity.hostName()), me.host)
        if let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid") {
            XCTAssertEqual(me.host, WorkerIdentity.hostName() + " " + namespace, "processes of another pid namespace are another host")
        }
    }

    func testPendingWorkAndRelease() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            XCTAssertFalse(try store.hasPendingWork())
            let job = try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            XCTAssertTrue(try store.hasPendingWork(), "queued")
            _ = try store.claim(worker: "a", leaseSeconds: 120)
            XCTAssertTrue(try store.hasPendingWork(), "running under a lease")
            XCTAssertEqual(try store.saveCheckpoint(jobID: job, worker: "a", stage: "base", step: 3, steps: 50, state: Data([1, 2]),
                                                    stepSeconds: 0.1, leaseSeconds: 120), .keepGoing)
            XCTAssertEqual(try store.saveCheckpoint(jobID: job, worker: "z", stage: "base", step: 3, steps: 50, state: Data([9]),
                                                    stepSeconds: 0.1, leaseSeconds: 120), .leaseLost, "not z's job")
            XCTAssertEqual(try report(location, "SELECT step, steps, stage FROM v_jobs"), [["3", "50", "base"]])
            XCTAssertFalse(try store.release(jobID: job, worker: "b"), "not b's job")
            XCTAssertTrue(try store.release(jobID: job, worker: "a"))
            let back = try XCTUnwrap(try store.claim(worker: "b", leaseSeconds: 120))
            XCTAssertEqual(back.checkpoint, Data([1, 2]), "the checkpoint stays with the job")
            XCTAssertTrue(try store.fail(jobID: job, worker: "b", error: "busy", kind: .transient, backoff: 60))
            XCTAssertNil(try store.claim(worker: "c", leaseSeconds: 120), "waiting for its retry")
            XCTAssertTrue(try store.hasPendingWork(), "waiting for a retry counts")
            try TestQueues.execute(location, "UPDATE jobs SET state = 'failed'")
            XCTAssertFalse(try store.hasPendingWork())
        }
    }

    func testProgressAndCounts() throws {
        try onEachBackend { _ in
            let (store, _) = try openQueue()
            var r = RenderRequest(prompt: "x")
            r.steps = 10
            let a = try store.enqueue(model: "m", request: r)
            try store.enqueue(model: "m", request: r)
            XCTAssertEqual(try store.progress(), QueueProgress(stepsLeft: 20, secondsPerStep: nil))
            _ = try store.claim(worker: "w", leaseSeconds: 60)
            for (step, seconds) in [(1, 0.5), (2, 1.5)] {
                XCTAssertEqual(try store.saveCheckpoint(jobID: a, worker: "w", stage: "base", step: step, steps: 10, state: Data([1]),
                                                        stepSeconds: seconds, leaseSeconds: 60), .keepGoing)
            }
            XCTAssertEqual(try store.progress(), QueueProgress(stepsLeft: 18, secondsPerStep: 1.0))
            XCTAssertEqual(try store.counts(), ["queued": 1, "running": 1])
            XCTAssertEqual(try store.imageCount(jobID: a), 0)
            XCTAssertTrue(try store.finish(jobID: a, worker: "w", attempt: 1, images: [
                FinishedImage(index: 0, png: Data([1, 2, 3]), outputPath: nil, provenance: "{}", watermarkWritten: nil, watermarkRead: nil),
                FinishedImage(index: 1, png: Data([4]), outputPath: "/x/job-1-1.png", provenance: "{}", watermarkWritten: nil, watermarkRead: nil),
            ], renderSeconds: 2))
            XCTAssertFalse(try store.finish(jobID: a, worker: "w", attempt: 1, images: [], renderSeconds: 2), "done once")
            XCTAssertEqual(try store.imageCount(jobID: a), 2)
            XCTAssertEqual(try store.counts(), ["queued": 1, "done": 1])
        }
    }
}
