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

    func testClaimOrderLeaseExpiryAndPause() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            let low = try await store.enqueue(model: "m", request: RenderRequest(prompt: "low"))
            let high = try await store.enqueue(model: "m", request: RenderRequest(prompt: "high"), priority: 9)
            let t0 = Date().timeIntervalSince1970
            let first = try await store.claim(worker: "a", leaseSeconds: 10, now: t0)
            XCTAssertEqual(first?.jobID, high)
            let second = try await store.claim(worker: "b", leaseSeconds: 10, now: t0)
            XCTAssertEqual(second?.jobID, low)
            let third = try await store.claim(worker: "c", leaseSeconds: 10, now: t0)
            XCTAssertNil(third, "both leased")
            let reclaimed = try await store.claim(worker: "c", leaseSeconds: 10, now: t0 + 11)
            XCTAssertEqual(reclaimed?.jobID, high, "an expired lease is claimed again")
            XCTAssertEqual(reclaimed?.attempt, 2)
            let renewedByA = try await store.renewLease(jobID: high, worker: "a", leaseSeconds: 10)
            XCTAssertFalse(renewedByA, "the first worker lost it")
            let renewedByC = try await store.renewLease(jobID: high, worker: "c", leaseSeconds: 10)
            XCTAssertTrue(renewedByC)
            try await store.setPaused(true, sweep: nil)
            let whilePaused = try await store.claim(worker: "d", leaseSeconds: 10, now: t0 + 100)
            XCTAssertNil(whilePaused, "paused queue")
            let pendingWhilePaused = try await store.hasPendingWork()
            XCTAssertFalse(pendingWhilePaused, "a paused queue has nothing to wait for")
            try await store.setPaused(false, sweep: nil)
            let resumed = try await store.claim(worker: "d", leaseSeconds: 10, now: t0 + 100)
            XCTAssertNotNil(resumed)
            await XCTAssertThrowsErrorAsync(try await store.setPaused(true, sweep: 99), "no such sweep")
            let running = try await report(location, "SELECT COUNT(*) FROM v_jobs WHERE state = 'running'")
            XCTAssertEqual(running, [["2"]])
        }
    }

    func testJobOfADeadProcessOnThisHostIsTakenOverAtOnce() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            let job = try await store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            let t0 = Date().timeIntervalSince1970
            let dead = WorkerIdentity(host: "render-1", pid: try deadPID())
            let first = try await store.claim(worker: "a", leaseSeconds: 120, now: t0, identity: dead)
            XCTAssertEqual(first?.jobID, job)
            let otherHost = try await store.claim(worker: "b", leaseSeconds: 120, now: t0 + 1, identity: WorkerIdentity(host: "render-2", pid: getpid()))
            XCTAssertNil(otherHost, "another host waits for the lease to expire")
            let taken = try await store.claim(worker: "c", leaseSeconds: 120, now: t0 + 1, identity: WorkerIdentity(host: "render-1", pid: getpid()))
            XCTAssertEqual(taken?.jobID, job, "the same host sees the process is gone")
            XCTAssertEqual(taken?.attempt, 2)
            let lease = try await report(location, "SELECT lease_owner, lease_pid FROM jobs")
            XCTAssertEqual(lease, [["c", "\(getpid())"]])
            let live = try await store.claim(worker: "d", leaseSeconds: 120, now: t0 + 2, identity: WorkerIdentity(host: "render-1", pid: getpid()))
            XCTAssertNil(live, "a live process keeps its job")
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

    func testPendingWorkAndRelease() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            let pendingWhenEmpty = try await store.hasPendingWork()
            XCTAssertFalse(pendingWhenEmpty)
            let job = try await store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
            let pendingQueued = try await store.hasPendingWork()
            XCTAssertTrue(pendingQueued, "queued")
            _ = try await store.claim(worker: "a", leaseSeconds: 120)
            let pendingLeased = try await store.hasPendingWork()
            XCTAssertTrue(pendingLeased, "running under a lease")
            let savedByA = try await store.saveCheckpoint(jobID: job, worker: "a", stage: "base", step: 3, steps: 50, state: Data([1, 2]),
                                                          stepSeconds: 0.1, leaseSeconds: 120)
            XCTAssertEqual(savedByA, .keepGoing)
            let savedByZ = try await store.saveCheckpoint(jobID: job, worker: "z", stage: "base", step: 3, steps: 50, state: Data([9]),
                                                          stepSeconds: 0.1, leaseSeconds: 120)
            XCTAssertEqual(savedByZ, .leaseLost, "not z's job")
            let progress = try await report(location, "SELECT step, steps, stage FROM v_jobs")
            XCTAssertEqual(progress, [["3", "50", "base"]])
            let releasedByB = try await store.release(jobID: job, worker: "b")
            XCTAssertFalse(releasedByB, "not b's job")
            let releasedByA = try await store.release(jobID: job, worker: "a")
            XCTAssertTrue(releasedByA)
            let claimedBack = try await store.claim(worker: "b", leaseSeconds: 120)
            let back = try XCTUnwrap(claimedBack)
            XCTAssertEqual(back.checkpoint, Data([1, 2]), "the checkpoint stays with the job")
            let retried = try await store.fail(jobID: job, worker: "b", error: "busy", kind: .transient, backoff: 60)
            XCTAssertTrue(retried)
            let duringBackoff = try await store.claim(worker: "c", leaseSeconds: 120)
            XCTAssertNil(duringBackoff, "waiting for its retry")
            let pendingRetry = try await store.hasPendingWork()
            XCTAssertTrue(pendingRetry, "waiting for a retry counts")
            try TestQueues.execute(location, "UPDATE jobs SET state = 'failed'")
            let pendingFailed = try await store.hasPendingWork()
            XCTAssertFalse(pendingFailed)
        }
    }

    func testProgressAndCounts() async throws {
        try await onEachBackend { _ in
            let (store, _) = try await openQueue()
            var r = RenderRequest(prompt: "x")
            r.steps = 10
            let a = try await store.enqueue(model: "m", request: r)
            try await store.enqueue(model: "m", request: r)
            let progressBefore = try await store.progress()
            XCTAssertEqual(progressBefore, QueueProgress(stepsLeft: 20, secondsPerStep: nil))
            _ = try await store.claim(worker: "w", leaseSeconds: 60)
            for (step, seconds) in [(1, 0.5), (2, 1.5)] {
                let saved = try await store.saveCheckpoint(jobID: a, worker: "w", stage: "base", step: step, steps: 10, state: Data([1]),
                                                           stepSeconds: seconds, leaseSeconds: 60)
                XCTAssertEqual(saved, .keepGoing)
            }
            let progressAfter = try await store.progress()
            XCTAssertEqual(progressAfter, QueueProgress(stepsLeft: 18, secondsPerStep: 1.0))
            let countsRunning = try await store.counts()
            XCTAssertEqual(countsRunning, ["queued": 1, "running": 1])
            let imagesBefore = try await store.imageCount(jobID: a)
            XCTAssertEqual(imagesBefore, 0)
            let finished = try await store.finish(jobID: a, worker: "w", attempt: 1, images: [
                FinishedImage(index: 0, png: Data([1, 2, 3]), outputPath: nil, provenance: "{}", watermarkWritten: nil, watermarkRead: nil),
                FinishedImage(index: 1, png: Data([4]), outputPath: "/x/job-1-1.png", provenance: "{}", watermarkWritten: nil, watermarkRead: nil),
            ], renderSeconds: 2)
            XCTAssertTrue(finished)
            let finishedAgain = try await store.finish(jobID: a, worker: "w", attempt: 1, images: [], renderSeconds: 2)
            XCTAssertFalse(finishedAgain, "done once")
            let imagesAfter = try await store.imageCount(jobID: a)
            XCTAssertEqual(imagesAfter, 2)
            let countsDone = try await store.counts()
            XCTAssertEqual(countsDone, ["queued": 1, "done": 1])
        }
    }
}
