import Foundation
import GRDB
import Imaging
import KilnTestSupport
import ModelFiles
import Pipelines
import RenderQueue
import XCTest

/// Leases taken over from dead processes, jobs released on a stop, and failures sorted into
/// permanent and transient.
final class LeaseAndFailureTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The id of a process that has exited (and been reaped).
    func deadPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    func row(_ store: JobStore, _ sql: String) throws -> [String?] {
        try store.database.pool.read { db in
            guard let row = try Row.fetchOne(db, sql: sql) else { return [] }
            return row.databaseValues.map { $0.isNull ? nil : "\($0.storage)".replacingOccurrences(of: "string(\"", with: "") }
        }
    }

    func testJobOfADeadProcessOnThisHostIsTakenOverAtOnce() throws {
        let store = JobStore(try QueueDatabase(path: dir + "/q.db"))
        let job = try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        let t0 = Date().timeIntervalSince1970
        let dead = WorkerIdentity(host: "render-1", pid: try deadPID())
        XCTAssertEqual(try store.claim(worker: "a", leaseSeconds: 120, now: t0, identity: dead)?.jobID, job)
        XCTAssertNil(try store.claim(worker: "b", leaseSeconds: 120, now: t0 + 1, identity: WorkerIdentity(host: "render-2", pid: getpid())),
                     "another host waits for the lease to expire")
        let taken = try store.claim(worker: "c", leaseSeconds: 120, now: t0 + 1, identity: WorkerIdentity(host: "render-1", pid: getpid()))
        XCTAssertEqual(taken?.jobID, job, "the same host sees the process is gone")
        XCTAssertEqual(taken?.attempt, 2)
        XCTAssertEqual(try store.database.pool.read { try Row.fetchOne($0, sql: "SELECT lease_owner, lease_host, lease_pid FROM jobs") }?["lease_pid"] as Int64?,
                       Int64(getpid()))
        XCTAssertNil(try store.claim(worker: "d", leaseSeconds: 120, now: t0 + 2, identity: WorkerIdentity(host: "render-1", pid: getpid())),
                     "a live process keeps its job")
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
        let store = JobStore(try QueueDatabase(path: dir + "/q.db"))
        XCTAssertFalse(try store.hasPendingWork())
        let job = try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        XCTAssertTrue(try store.hasPendingWork(), "queued")
        _ = try store.claim(worker: "a", leaseSeconds: 120)
        XCTAssertTrue(try store.hasPendingWork(), "running under a lease")
        XCTAssertEqual(try store.saveCheckpoint(jobID: job, worker: "a", stage: "base", step: 3, steps: 50, state: Data([1, 2]),
                                                stepSeconds: 0.1, leaseSeconds: 120), .keepGoing)
        XCTAssertFalse(try store.release(jobID: job, worker: "b"), "not b's job")
        XCTAssertTrue(try store.release(jobID: job, worker: "a"))
        let back = try XCTUnwrap(try store.claim(worker: "b", leaseSeconds: 120))
        XCTAssertEqual(back.checkpoint, Data([1, 2]), "the checkpoint stays with the job")
        XCTAssertTrue(try store.fail(jobID: job, worker: "b", error: "busy", kind: .transient, backoff: 60))
        XCTAssertNil(try store.claim(worker: "c", leaseSeconds: 120), "waiting for its retry")
        XCTAssertTrue(try store.hasPendingWork(), "waiting for a retry counts")
        _ = try store.database.pool.write { try $0.execute(sql: "UPDATE jobs SET state = 'failed'") }
        XCTAssertFalse(try store.hasPendingWork())
    }

    func testPermanentFailuresFailAtOnceAndTransientOnesRetry() throws {
        let store = JobStore(try QueueDatabase(path: dir + "/q.db"))
        let a = try store.enqueue(model: "m", request: RenderRequest(prompt: "a"), priority: 1, maxAttempts: 3)
        let b = try store.enqueue(model: "m", request: RenderRequest(prompt: "b"), maxAttempts: 3)
        _ = try store.claim(worker: "w", leaseSeconds: 120)
        XCTAssertFalse(try store.fail(jobID: a, worker: "w", error: "m: file not found", kind: .permanent))
        _ = try store.claim(worker: "w", leaseSeconds: 120)
        XCTAssertTrue(try store.fail(jobID: b, worker: "w", error: "disk full", kind: .transient))
        let rows = try Report.run(databasePath: dir + "/q.db", sql: "SELECT job_id, state, error_kind FROM v_jobs ORDER BY job_id").rows
        XCTAssertEqual(rows, [["\(a)", "failed", "permanent"], ["\(b)", "queued", "transient"]])
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
            ImagingError.writeFailed(path: "/out/job-1-0.png", reason: "No space left on device"),
            DatabaseError(resultCode: .SQLITE_BUSY), DatabaseError(resultCode: .SQLITE_FULL),
            POSIXError(.ENOSPC), POSIXError(.ENOMEM), NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC)),
        ]
        for e in transient { XCTAssertEqual(FailureKind.of(e), .transient, "\(e)") }
        XCTAssertEqual(FailureKind.of(DatabaseError(resultCode: .SQLITE_CONSTRAINT)), .permanent)
    }
}
