import Foundation
import RenderRecord

/// The render queue's operations, whatever database holds it (SQLite for one machine,
/// PostgreSQL for a farm). The worker and the commands see only this protocol: no SQL dialect
/// leaks into them. Every state change is one transaction; implementations are safe to call from
/// several tasks at once (a worker renews its lease from a task of its own while it renders).
/// Every call is async: a database is awaited, never waited for on a thread.
public protocol JobQueue: AnyObject, Sendable {
    /// The database as it may be shown to a user: a path, or a URL without its password.
    var displayName: String { get }

    /// Adds one job, with the bytes of its input files (image, mask, latents) stored by hash in
    /// the same transaction; returns its id. `request` must already be validated.
    func insertJob(model: String, config: String?, request: RenderRequest, requestJSON: String, blobs: [String: Data],
                   priority: Int, sweepID: Int64?, maxAttempts: Int) async throws -> Int64
    /// Inserts a sweep and all its jobs in one transaction.
    func insertSweep(name: String?, spec: String, priority: Int, model: String, config: String?,
                     jobs: [(steps: Int, requestJSON: String)], blobs: [String: Data]) async throws -> Int64
    /// The bytes stored under `sha256`, if any.
    func blob(_ sha256: String) async throws -> Data?

    /// Claims the highest-priority, oldest ready job for `worker`, atomically. Ready means queued
    /// (past its retry backoff), or running under an expired lease, or running under a lease
    /// taken on `identity.host` by a process that no longer exists (taken over at once). A
    /// running job whose cancel was requested and whose worker is gone becomes cancelled; a job
    /// whose stored request does not decode fails alone, naming itself.
    func claim(worker: String, leaseSeconds: Double, now: Double, identity: WorkerIdentity) async throws -> ClaimedJob?
    /// Extends the lease; false when the job is no longer this worker's (expired and reclaimed).
    func renewLease(jobID: Int64, worker: String, leaseSeconds: Double, now: Double) async throws -> Bool
    /// Replaces the job's checkpoint and records progress, in one transaction. A `preview`
    /// (PNG bytes, showing step `step`) replaces the stored one; nil keeps it.
    func saveCheckpoint(jobID: Int64, worker: String, stage: String, step: Int, steps: Int, state: Data,
                        preview: Data?, stepSeconds: Double, leaseSeconds: Double) async throws -> CheckpointOutcome
    /// Stores the outputs and marks the job done in the same transaction; false if the lease was lost.
    func finish(jobID: Int64, worker: String, attempt: Int, images: [FinishedImage], renderSeconds: Double) async throws -> Bool
    /// Records a failed render (see `JobQueue.fail(jobID:worker:error:kind:backoff:untilDone:now:)`);
    /// true when the job goes back to the queue.
    func recordFailure(jobID: Int64, worker: String, error: String, kind: FailureKind, backoff: Double,
                       untilDone: Bool, now: Double) async throws -> Bool
    /// Puts a running job back in the queue, keeping its checkpoint, and releases its lease.
    /// False when the job was no longer this worker's.
    func release(jobID: Int64, worker: String) async throws -> Bool
    /// Marks a cancelled running job as cancelled (after the worker stopped at a step).
    func markCancelled(jobID: Int64, worker: String) async throws
    /// Whether any job may still become claimable: queued (now or after its retry backoff) or
    /// running under a lease, outside paused sweeps and a paused queue, not being cancelled.
    func hasPendingWork() async throws -> Bool
    /// Waits up to `seconds` for new work (woken early where the database can tell, e.g.
    /// PostgreSQL's LISTEN/NOTIFY; polling elsewhere) or for `stop`.
    func waitForWork(seconds: Double, unless stop: StopRequest) async

    /// Requests cancellation: queued jobs are cancelled at once, running ones stop at their next
    /// step. Returns how many jobs it touched.
    func cancel(_ selection: JobSelection) async throws -> Int
    /// Puts failed or cancelled jobs back in the queue (keeping their checkpoints), and running
    /// jobs whose cancel was requested after their worker's lease ran out.
    func retry(_ selection: JobSelection) async throws -> Int
    /// Pauses or resumes the whole queue, or one sweep (which must exist).
    func setPaused(_ paused: Bool, sweep: Int64?) async throws
    /// Deletes the checkpoints of finished (done, failed, cancelled) jobs.
    func pruneCheckpoints() async throws -> Int

    /// Job counts by state.
    func counts() async throws -> [String: Int]
    /// Images stored for a job.
    func imageCount(jobID: Int64) async throws -> Int
    /// Steps left and the mean measured step time.
    func progress() async throws -> QueueProgress
}

extension JobQueue {
    /// `saveCheckpoint` without a new preview (the stored one, if any, is kept).
    public func saveCheckpoint(jobID: Int64, worker: String, stage: String, step: Int, steps: Int, state: Data,
                               stepSeconds: Double, leaseSeconds: Double) async throws -> CheckpointOutcome {
        try await saveCheckpoint(jobID: jobID, worker: worker, stage: stage, step: step, steps: steps, state: state,
                           preview: nil, stepSeconds: stepSeconds, leaseSeconds: leaseSeconds)
    }
}

/// Read-only access to a queue, for the commands that only look (`status`, `report`, `sheet`,
/// `export`): opening one never creates or migrates a database, and nothing it runs can write.
public protocol QueueReader: AnyObject, Sendable {
    /// The database as it may be shown to a user: a path, or a URL without its password.
    var displayName: String { get }

    /// User SQL in a read-only transaction, stopped after `timeout` seconds; any statement that
    /// would write fails with `QueueError.readOnlyViolation` or a query error.
    nonisolated(nonsending) func query(_ sql: String, timeout: Double) async throws -> ReportTable
    /// User SQL as `query` runs it, its rows handed to `row` one at a time as they are read
    /// (never all held at once), after `header` got the column names. Runs on the caller's
    /// actor, where the callbacks live.
    nonisolated(nonsending) func forEachRow(sql: String, timeout: Double, header: ([String]) throws -> Void, row: ([String?]) throws -> Void) async throws
    /// Counts by state, running jobs with step/steps and ETA, the queue's steps left and ETA.
    nonisolated(nonsending) func status() async throws -> ReportTable
    /// Whether a sweep with this id exists.
    func exists(sweep id: Int64) async throws -> Bool
    /// Whether a job with this id exists.
    func exists(job id: Int64) async throws -> Bool
    /// The outputs of the selected jobs in job and image order, streamed one at a time, on the
    /// caller's actor.
    nonisolated(nonsending) func forEachOutput(_ selection: JobSelection, _ body: (StoredOutput) throws -> Void) async throws
    /// Provenance JSON and the image (bytes or path) of every output of a sweep, in job order.
    func sweepOutputs(_ sweep: Int64) async throws -> [(provenance: String, output: StoredOutput)]
}

/// Which jobs `cancel`, `retry` and `export` act on: the listed jobs, else a sweep's, else all.
public struct JobSelection: Sendable, Equatable {
    public var jobs: [Int64]
    public var sweep: Int64?
    public init(jobs: [Int64] = [], sweep: Int64? = nil) {
        self.jobs = jobs
        self.sweep = sweep
    }
    public static let all = JobSelection()
}

/// A running job's preview: a small PNG of its latents at step `step` (over all stages).
public struct JobPreview: Sendable, Equatable {
    public var step: Int
    public var png: Data
    public init(step: Int, png: Data) {
        self.step = step
        self.png = png
    }
}

/// What a worker learns when it saves a checkpoint.
public enum CheckpointOutcome: Sendable { case keepGoing, cancelled, leaseLost }

/// Column names and rows as text (NULL as nil), as `kiln report` prints them.
public struct ReportTable: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[String?]]
    public init(columns: [String], rows: [[String?]]) {
        self.columns = columns
        self.rows = rows
    }
}

/// An error a database implementation throws that knows whether a retry can help (a busy or
/// full database, a lost connection) and whether it is a full disk.
public protocol QueueDatabaseFailure: Error {
    var failureKind: FailureKind { get }
    var isDiskFull: Bool { get }
}

extension JobQueue {
    /// Adds one job after validating it and checking its inputs came with their bytes.
    @discardableResult
    public func enqueue(model: String, config: String? = nil, request: RenderRequest, blobs: [String: Data] = [:], priority: Int = 0,
                        sweepID: Int64? = nil, maxAttempts: Int = 3) async throws -> Int64 {
        try await enqueue(model: model, config: config, validated: ValidatedRequest(request), blobs: blobs, priority: priority,
                    sweepID: sweepID, maxAttempts: maxAttempts)
    }

    /// Adds one job validated where it entered (`kiln enqueue`), after checking its inputs came with their bytes.
    @discardableResult
    public func enqueue(model: String, config: String? = nil, validated: ValidatedRequest, blobs: [String: Data] = [:], priority: Int = 0,
                        sweepID: Int64? = nil, maxAttempts: Int = 3) async throws -> Int64 {
        let request = validated.request
        try JobRequests.checkInputs(request, blobs: blobs)
        return try await insertJob(model: model, config: config, request: request, requestJSON: try JobRequests.encode(request), blobs: blobs,
                             priority: priority, sweepID: sweepID, maxAttempts: maxAttempts)
    }

    /// Inserts a sweep and all its jobs in one transaction. `requests` must already be validated.
    public func enqueue(sweep spec: SweepSpec, model: String, config: String?, requests: [RenderRequest],
                        blobs: [String: Data] = [:]) async throws -> (sweepID: Int64, jobs: Int) {
        for r in requests { try JobRequests.checkInputs(r, blobs: blobs) }
        let jobs = try requests.map { (steps: $0.steps, requestJSON: try JobRequests.encode($0)) }
        let id = try await insertSweep(name: spec.name, spec: spec.sourceJSON, priority: spec.priority, model: model, config: config,
                                 jobs: jobs, blobs: blobs)
        return (id, requests.count)
    }

    public func claim(worker: String, leaseSeconds: Double, now: Double = Date().timeIntervalSince1970,
                      identity: WorkerIdentity = .current) async throws -> ClaimedJob? {
        try await claim(worker: worker, leaseSeconds: leaseSeconds, now: now, identity: identity)
    }

    public func renewLease(jobID: Int64, worker: String, leaseSeconds: Double) async throws -> Bool {
        try await renewLease(jobID: jobID, worker: worker, leaseSeconds: leaseSeconds, now: Date().timeIntervalSince1970)
    }

    /// Records a failed render with its kind. A transient failure goes back to the queue after a
    /// backoff (`backoff` seconds, doubling: 30 s, 60 s, ...) while failures stay below the job's
    /// limit; a permanent one, or the last allowed, leaves the job failed with the error text.
    /// With `untilDone` (a full disk) the job is retried whatever its failures, the backoff capped
    /// at 5 minutes. Returns true when the job will be retried.
    @discardableResult
    public func fail(jobID: Int64, worker: String, error: String, kind: FailureKind = .transient, backoff: Double = 30,
                     untilDone: Bool = false, now: Double = Date().timeIntervalSince1970) async throws -> Bool {
        try await recordFailure(jobID: jobID, worker: worker, error: error, kind: kind, backoff: backoff, untilDone: untilDone, now: now)
    }

    public func cancel(jobs: [Int64] = [], sweep: Int64? = nil) async throws -> Int { try await cancel(JobSelection(jobs: jobs, sweep: sweep)) }
    public func retry(jobs: [Int64] = [], sweep: Int64? = nil) async throws -> Int { try await retry(JobSelection(jobs: jobs, sweep: sweep)) }

    /// Polling: sleeps in short naps, returning early when a stop is requested.
    public func pollForWork(seconds: Double, unless stop: StopRequest) async { await stop.wait(seconds: seconds) }
}

/// How requests are stored and checked, the same for every database.
public enum JobRequests {
    /// A request as stored in `jobs.request`: JSON with sorted keys (diffusers' argument names).
    public static func encode(_ request: RenderRequest) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(request), as: UTF8.self)
    }

    /// A stored request, or the one-line reason the claim fails the job with.
    public static func decode(_ json: String, jobID: Int64) -> Result<RenderRequest, QueueError> {
        do {
            return .success(try JSONDecoder().decode(RenderRequest.self, from: Data(json.utf8)))
        } catch {
            let why = "job \(jobID): its stored request does not decode (\(String(describing: error).prefix(200))); queue it again"
            return .failure(.undecodableRequest(OneLine.folding(why)))
        }
    }

    /// Every input a request names must come with its bytes (or already be stored).
    public static func checkInputs(_ request: RenderRequest, blobs: [String: Data]) throws {
        for (input, ref) in request.storedInputs {
            guard ref.sha256.count == 64, blobs[ref.sha256] != nil else {
                throw QueueError.invalidSpec(key: input.parameter, reason: "\(ref.file ?? ref.sha256) was not read; inputs are stored with the job")
            }
        }
        for ref in request.controlnet.images where ref.sha256.count != 64 || blobs[ref.sha256] == nil {
            throw QueueError.invalidSpec(key: "control-image", reason: "\(ref.file ?? ref.sha256) was not read; inputs are stored with the job")
        }
    }

    /// The most undecodable jobs one claim fails before giving up for this round, so a flood of
    /// them cannot spin a claim forever.
    public static let maxUndecodablePerClaim = 1000
}
