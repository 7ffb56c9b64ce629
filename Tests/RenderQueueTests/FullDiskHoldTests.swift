import Foundation
import Imaging
import KilnTestSupport
import Pipelines
import RenderQueue
import RenderWorker
import XCTest

/// A queue whose chosen writes fail as a database on a full disk does, a set number of times
/// (`Int.max`: always); everything else goes to the real queue underneath.
final class FullDiskQueue: JobQueue, @unchecked Sendable {
    enum Write: Hashable { case claim, renewLease, saveCheckpoint, finish, recordFailure, release }
    let inner: any JobQueue
    private let lock = NSLock()
    private var failing: [Write: Int]
    private(set) var failed: [Write: Int] = [:]
    /// When each write was tried.
    private(set) var tried: [Write: [Date]] = [:]

    init(_ inner: any JobQueue, failing: [Write: Int]) {
        self.inner = inner
        self.failing = failing
    }

    func setFailing(_ write: Write, _ times: Int) {
        lock.lock()
        failing[write] = times
        lock.unlock()
    }

    func failures(_ write: Write) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return failed[write] ?? 0
    }

    private func check(_ write: Write) throws {
        lock.lock()
        defer { lock.unlock() }
        tried[write, default: []].append(Date())
        guard let left = failing[write], left > 0 else { return }
        if left != Int.max { failing[write] = left - 1 }
        failed[write, default: 0] += 1
        throw DatabaseDiskFull("database or disk is full (injected)")
    }

    var displayName: String { inner.displayName }
    func insertJob(model: String, config: String?, request: RenderRequest, requestJSON: String, blobs: [String: Data],
                   priority: Int, sweepID: Int64?, maxAttempts: Int) async throws -> Int64 {
        try await inner.insertJob(model: model, config: config, request: request, requestJSON: requestJSON, blobs: blobs,
                                  priority: priority, sweepID: sweepID, maxAttempts: maxAttempts)
    }
    func insertSweep(name: String?, spec: String, priority: Int, model: String, config: String?,
                     jobs: [(steps: Int, requestJSON: String)], blobs: [String: Data]) async throws -> Int64 {
        try await inner.insertSweep(name: name, spec: spec, priority: priority, model: model, config: config, jobs: jobs, blobs: blobs)
    }
    func blob(_ sha256: String) async throws -> Data? { try await inner.blob(sha256) }
    func claim(worker: String, leaseSeconds: Double, now: Double, identity: WorkerIdentity) async throws -> ClaimedJob? {
        try check(.claim)
        return try await inner.claim(worker: worker, leaseSeconds: leaseSeconds, now: now, identity: identity)
    }
    func renewLease(jobID: Int64, worker: String, leaseSeconds: Double, now: Double) async throws -> Bool {
        try check(.renewLease)
        return try await inner.renewLease(jobID: jobID, worker: worker, leaseSeconds: leaseSeconds, now: now)
    }
    func saveCheckpoint(jobID: Int64, worker: String, stage: String, step: Int, steps: Int, state: Data,
                        preview: Data?, stepSeconds: Double, leaseSeconds: Double) async throws -> CheckpointOutcome {
        try check(.saveCheckpoint)
        return try await inner.saveCheckpoint(jobID: jobID, worker: worker, stage: stage, step: step, steps: steps, state: state,
                                              preview: preview, stepSeconds: stepSeconds, leaseSeconds: leaseSeconds)
    }
    func finish(jobID: Int64, worker: String, attempt: Int, images: [FinishedImage], renderSeconds: Double) async throws -> Bool {
        try check(.finish)
        return try await inner.finish(jobID: jobID, worker: worker, attempt: attempt, images: images, renderSeconds: renderSeconds)
    }
    func recordFailure(jobID: Int64, worker: String, error: String, kind: FailureKind, backoff: Double,
                       untilDone: Bool, now: Double) async throws -> Bool {
        try check(.recordFailure)
        return try await inner.recordFailure(jobID: jobID, worker: worker, error: error, kind: kind, backoff: backoff, untilDone: untilDone, now: now)
    }
    func release(jobID: Int64, worker: String) async throws -> Bool {
        try check(.release)
        return try await inner.release(jobID: jobID, worker: worker)
    }
    func markCancelled(jobID: Int64, worker: String) async throws { try await inner.markCancelled(jobID: jobID, worker: worker) }
    func hasPendingWork() async throws -> Bool { try await inner.hasPendingWork() }
    func waitForWork(seconds: Double, unless stop: StopRequest) async { await inner.waitForWork(seconds: seconds, unless: stop) }
    func cancel(_ selection: JobSelection) async throws -> Int { try await inner.cancel(selection) }
    func retry(_ selection: JobSelection) async throws -> Int { try await inner.retry(selection) }
    func setPaused(_ paused: Bool, sweep: Int64?) async throws { try await inner.setPaused(paused, sweep: sweep) }
    func pruneCheckpoints() async throws -> Int { try await inner.pruneCheckpoints() }
    func counts() async throws -> [String: Int] { try await inner.counts() }
    func imageCount(jobID: Int64) async throws -> Int { try await inner.imageCount(jobID: jobID) }
    func progress() async throws -> QueueProgress { try await inner.progress() }
}

/// A full disk under the database or the output folder is waited out where the worker meets it:
/// the worker stays alive, says so once, uses no attempt and finishes the job once space returns.
final class FullDiskHoldTests: QueueTestCase {
    func tinyJob(_ store: any JobQueue, maxAttempts: Int = 3) async throws -> Int64 {
        var request = RenderRequest(prompt: "x")
        request.steps = 2; request.width = 64; request.height = 64; request.seed = 1
        return try await store.enqueue(model: Fixtures.model("tiny-sdxl-base"), request: request, maxAttempts: maxAttempts)
    }

    func worker(_ store: any JobQueue, lease: Double = 120, folder: String? = nil) -> (Worker, Warnings) {
        var options = Worker.Options(name: "w")
        options.retryBackoff = 0.05
        options.fullDiskBackoffCap = 0.2
        options.leaseSeconds = lease
        options.outputFolder = folder
        let worker = Worker(store: store, options: options)
        let warnings = Warnings()
        worker.onWarning = { warnings.append($0) }
        return (worker, warnings)
    }

    final class Warnings: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    /// The tester's "SQLite error 13" at every write a job makes: the worker waits each out.
    func testAFullDatabaseIsWaitedOutAtEveryWrite() async throws {
        try await onEachBackend { _ in
            let (real, location) = try await openQueue()
            let id = try await tinyJob(real, maxAttempts: 1)
            let store = FullDiskQueue(real, failing: [.claim: 3, .saveCheckpoint: 3, .finish: 3])
            let (worker, warnings) = worker(store)
            let outcome = try await worker.runOne()
            XCTAssertEqual(outcome, .done(id))
            XCTAssertEqual(store.failed, [.claim: 3, .saveCheckpoint: 3, .finish: 3])
            XCTAssertEqual(warnings.all.count, 3, "one line per wait: \(warnings.all)")
            XCTAssertTrue(warnings.all.allSatisfy { $0.contains("the disk is full (database or disk is full (injected))") }, "\(warnings.all)")
            let rows = try await report(location, "SELECT state, attempts, failures, error FROM jobs")
            XCTAssertEqual(rows, [["done", "1", "0", nil]])
        }
    }

    /// The pause between tries doubles from `retryBackoff` and stays at the cap.
    func testThePauseDoublesUpToItsCap() async throws {
        try await onEachBackend { _ in
            let (real, _) = try await openQueue()
            let id = try await tinyJob(real)
            let store = FullDiskQueue(real, failing: [.finish: 5])
            var options = Worker.Options(name: "w")
            options.retryBackoff = 0.1
            options.fullDiskBackoffCap = 0.4
            let outcome = try await Worker(store: store, options: options).runOne()
            XCTAssertEqual(outcome, .done(id))
            let times = store.tried[.finish] ?? []
            XCTAssertEqual(times.count, 6)
            let pauses = zip(times.dropFirst(), times).map { $0.timeIntervalSince($1) }
            for (pause, expected) in zip(pauses, [0.1, 0.2, 0.4, 0.4, 0.4]) {
                XCTAssertGreaterThanOrEqual(pause, expected * 0.95, "\(pauses)")
                XCTAssertLessThan(pause, expected + 0.5, "\(pauses)")
            }
        }
    }

    /// When not even a lease renewal gets through, the worker lets go once the lease has run out
    /// (without throwing) and the job is claimed again afterwards.
    func testAJobIsLeftForTheNextClaimWhenTheLeaseRunsOut() async throws {
        try await onEachBackend { _ in
            let (real, location) = try await openQueue()
            let id = try await tinyJob(real)
            let store = FullDiskQueue(real, failing: [.finish: Int.max, .renewLease: Int.max, .recordFailure: Int.max])
            let (worker, warnings) = worker(store, lease: 1.5)
            let started = Date()
            guard case .leftRunning(let left, let why) = try await worker.runOne() else { return XCTFail("not left running") }
            XCTAssertEqual(left, id)
            XCTAssertTrue(why.contains("database or disk is full"), why)
            XCTAssertLessThan(Date().timeIntervalSince(started), 20)
            XCTAssertEqual(warnings.all.count, 1, "\(warnings.all)")
            let held = try await report(location, "SELECT state, failures FROM jobs")
            XCTAssertEqual(held, [["running", "0"]], "left under its lease")
            try await Task.sleep(for: .seconds(0.5))
            var options = Worker.Options(name: "other")
            options.identity = WorkerIdentity(host: "elsewhere", pid: 1)
            let again = try await Worker(store: real, options: options).runOne()
            XCTAssertEqual(again, .done(id), "claimed again once the lease expired")
            let rows = try await report(location, "SELECT state, attempts, failures FROM jobs")
            XCTAssertEqual(rows, [["done", "2", "0"]])
        }
    }

    /// A stop requested while waiting for space puts the job back with its checkpoint.
    func testAStopWhileWaitingForSpacePutsTheJobBack() async throws {
        try await onEachBackend { _ in
            let (real, location) = try await openQueue()
            let id = try await tinyJob(real)
            let store = FullDiskQueue(real, failing: [.finish: Int.max])
            let (worker, warnings) = worker(store)
            let stop = worker.stop
            worker.onWarning = { warnings.append($0); stop.request() }
            let outcome = try await worker.runOne()
            XCTAssertEqual(outcome, .released(id, step: 2, steps: 2))
            XCTAssertEqual(warnings.all.count, 1)
            let rows = try await report(location, "SELECT state, step, failures FROM jobs")
            XCTAssertEqual(rows, [["queued", "2", "0"]])
        }
    }

    /// A full output folder holds the finished image in memory, trying again until it can be
    /// written: no attempt used, one line said.
    func testAFullOutputFolderIsWaitedOut() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            let id = try await tinyJob(store, maxAttempts: 1)
            let folder = dir + "/out"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var options = Worker.Options(name: "w")
            options.retryBackoff = 0.05
            options.fullDiskBackoffCap = 0.1
            options.outputFolder = folder
            options.failingOutputWrites = 5
            let worker = Worker(store: store, options: options)
            let warnings = Warnings()
            worker.onWarning = { warnings.append($0) }
            let outcome = try await worker.runOne()
            XCTAssertEqual(outcome, .done(id))
            XCTAssertEqual(warnings.all.count, 1, "\(warnings.all)")
            XCTAssertTrue(warnings.all.first?.contains("job-\(id)-0.png: cannot be written (No space left on device)") ?? false, "\(warnings.all)")
            let rows = try await report(location, "SELECT state, attempts, failures FROM jobs")
            XCTAssertEqual(rows, [["done", "1", "0"]])
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["job-\(id)-0.png"])
        }
    }

    /// A PNG written to a really full disk fails with the system's reason, which counts as a
    /// full disk (it used to say Foundation's "There isn't enough space" and count as transient).
    func testAPNGWrittenToAFullDiskIsAFullDisk() throws {
        let disk = try SmallDisk(at: dir + "/small", megabytes: 1)
        defer { disk.unmount() }
        disk.fill()
        let path = disk.path + "/a.png"
        XCTAssertThrowsError(try PNGFile.write(RGBImage(width: 64, height: 64, pixels: [UInt8](repeating: 7, count: 64 * 64 * 3)), to: path)) { error in
            XCTAssertTrue("\(error)".contains("No space left on device"), "\(error)")
            XCTAssertTrue(FailureKind.isDiskFull(error), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: disk.path), ["filler"], "no temporary file left")
    }

    /// Foundation reports ENOSPC from `Data.write` as CocoaError 640 ("There isn't enough
    /// space"), which used to count as an ordinary transient failure and use up attempts.
    func testFoundationsOutOfSpaceErrorIsAFullDisk() {
        let cocoa = CocoaError(.fileWriteOutOfSpace, userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))])
        XCTAssertTrue(FailureKind.isDiskFull(cocoa))
        XCTAssertTrue(FailureKind.isDiskFull(ImagingError.writeFailed(path: "/out/a.png", reason: "The operation could not be completed. There isn’t enough space.")))
        XCTAssertFalse(FailureKind.isDiskFull(CocoaError(.fileWriteNoPermission)))
        XCTAssertFalse(FailureKind.isDiskFull(ImagingError.writeFailed(path: "/out/a.png", reason: "Permission denied")))
    }
}
