import Foundation
import PostgresNIO
import RenderQueue
import RenderRecord

/// The queue in a PostgreSQL database, for a farm: any number of machines share it. The same
/// operations, in the same transactions, as the SQLite queue (SQLiteJobQueue), written for
/// PostgreSQL: claims take `FOR UPDATE SKIP LOCKED`, lease checks lock the job's row, and
/// workers wake on NOTIFY instead of only polling. One connection per queue object.
public final class PostgresJobQueue: JobQueue, Sendable {
    let session: PostgresSession

    /// Connects to `url` (see `PostgresLocation`) and brings its schema up to date; without
    /// `create`, a database without Kiln's tables is refused rather than made a queue.
    public init(url: String, create: Bool = true) async throws {
        session = try await PostgresSession(PostgresLocation(url: url))
        if !create { try await PostgresSchema.checkReadable(session) }
        try await PostgresSchema.migrate(session)
    }

    /// The URL without its password.
    public var displayName: String { session.location.displayName }

    public func insertJob(model: String, config: String?, request: RenderRequest, requestJSON: String, blobs: [String: Data],
                          priority: Int, sweepID: Int64?, maxAttempts: Int) async throws -> Int64 {
        try await session.transaction { s in
            try await PostgresJobQueue.store(blobs, s)
            let row = try await s.first("""
                INSERT INTO jobs (sweep_id, model, config, request, priority, steps, max_attempts)
                VALUES (\(sweepID), \(model), \(config), \(requestJSON), \(priority), \(request.steps), \(maxAttempts))
                RETURNING job_id
                """)
            guard let id = try row?.decode(Int64.self) else { throw PostgresQueueFailure("\(displayName): INSERT returned no job id") }
            return id
        }
    }

    /// Input files by hash; a hash already stored is kept.
    static func store(_ blobs: [String: Data], _ s: Statements) async throws {
        for (hash, data) in blobs {
            try await s.execute("INSERT INTO blobs (sha256, data) VALUES (\(hash), \(data)) ON CONFLICT (sha256) DO NOTHING")
        }
    }

    public func blob(_ sha256: String) async throws -> Data? {
        try await session.autocommit { s in try await s.value("SELECT data FROM blobs WHERE sha256 = \(sha256)", as: Data.self) }
    }

    /// While the server is away (see `ServerQueue`) a renewal is skipped: it throws at once
    /// unless a reconnect is due.
    public func renewLease(jobID: Int64, worker: String, leaseSeconds: Double, now: Double) async throws -> Bool {
        let renewed = try await session.autocommit(patience: .skip) { s in
            try await s.first("""
                UPDATE jobs SET lease_expires = \(now + leaseSeconds)
                WHERE job_id = \(jobID) AND lease_owner = \(worker) AND state = 'running' RETURNING job_id
                """) != nil
        }
        holding(jobID, renewed ? now + leaseSeconds : nil)
        return renewed
    }

    /// The lease is checked on the job's row locked until commit, so it cannot change between
    /// the check and the write. While the server is away (see `ServerQueue`) the checkpoint is
    /// skipped and the render goes on, until the lease runs out (then `.leaseLost`).
    public func saveCheckpoint(jobID: Int64, worker: String, stage: String, step: Int, steps: Int, state: Data,
                               preview: Data?, stepSeconds: Double, leaseSeconds: Double) async throws -> CheckpointOutcome {
        let outcome: CheckpointOutcome
        do {
            outcome = try await checkpoint(jobID: jobID, worker: worker, stage: stage, step: step, steps: steps, state: state,
                                     preview: preview, stepSeconds: stepSeconds, leaseSeconds: leaseSeconds)
        } catch is ServerAway {
            return .keepGoing
        } catch let f as PostgresQueueFailure where f.mayHaveCommitted && session.waits.isEnabled {
            return .keepGoing
        } catch let ended as ServerWaitEnded where ended.reason == .leaseRanOut {
            return .leaseLost
        }
        holding(jobID, outcome == .keepGoing ? Date().timeIntervalSince1970 + leaseSeconds : nil)
        return outcome
    }

    func checkpoint(jobID: Int64, worker: String, stage: String, step: Int, steps: Int, state: Data, preview: Data?,
                    stepSeconds: Double, leaseSeconds: Double) async throws -> CheckpointOutcome {
        try await session.transaction(patience: .skip) { s in
            guard let row = try await s.first("SELECT lease_owner, state, cancel_requested FROM jobs WHERE job_id = \(jobID) FOR UPDATE") else {
                return .leaseLost
            }
            let (owner, jobState, cancel) = try row.decode((String?, String, Int).self)
            guard owner == worker, jobState == "running" else { return .leaseLost }
            if cancel == 1 { return .cancelled }
            try await s.execute("""
                INSERT INTO checkpoints (job_id, stage, step, state, preview, preview_step)
                VALUES (\(jobID), \(stage), \(step), \(state), \(preview), \(preview == nil ? nil : step))
                ON CONFLICT (job_id) DO UPDATE SET stage = excluded.stage, step = excluded.step, state = excluded.state,
                    preview = coalesce(excluded.preview, checkpoints.preview),
                    preview_step = coalesce(excluded.preview_step, checkpoints.preview_step),
                    updated_at = kiln_now()
                """)
            // step_seconds grows as SQLite's json_insert(step_seconds, '$[#]', x) writes it.
            let seconds = StepSeconds.jsonNumber(stepSeconds)
            try await s.execute("""
                UPDATE jobs SET step = \(step), steps = \(steps), lease_expires = \(Date().timeIntervalSince1970 + leaseSeconds),
                    step_seconds = CASE WHEN \(seconds)::text IS NULL THEN step_seconds
                                        WHEN step_seconds::jsonb = '[]'::jsonb THEN '[' || \(seconds) || ']'
                                        ELSE left(rtrim(step_seconds), -1) || ',' || \(seconds) || ']' END,
                    updated_at = kiln_now()
                WHERE job_id = \(jobID)
                """)
            return .keepGoing
        }
    }

    /// As SQLite: transient failures go back to the queue after `backoff` doubled per earlier
    /// failure (capped at 300 s with `untilDone`), until `max_attempts`; permanent ones fail.
    public func recordFailure(jobID: Int64, worker: String, error: String, kind: FailureKind, backoff: Double,
                              untilDone: Bool, now: Double) async throws -> Bool {
        defer { holding(jobID, nil) }
        return try await session.transaction { s in
            try await s.execute("""
                UPDATE jobs SET failures = failures + 1, error = \(error), error_kind = \(kind.rawValue), lease_owner = NULL,
                    lease_expires = NULL, lease_host = NULL, lease_pid = NULL,
                    state = CASE WHEN \(kind.rawValue) = 'permanent' THEN 'failed' WHEN \(untilDone) THEN 'queued'
                                 WHEN failures + 1 >= max_attempts THEN 'failed' ELSE 'queued' END,
                    not_before = \(now) + LEAST(\(backoff) * (1::bigint << LEAST(failures, 20)),
                                                CASE WHEN \(untilDone) THEN 300 ELSE 1e18 END::double precision),
                    updated_at = kiln_now()
                WHERE job_id = \(jobID) AND lease_owner = \(worker)
                """)
            return try await s.value("SELECT state FROM jobs WHERE job_id = \(jobID)", as: String.self) == "queued"
        }
    }

    /// False also when the server stayed away until the lease ran out (see `ServerQueue`).
    public func release(jobID: Int64, worker: String) async throws -> Bool {
        defer { holding(jobID, nil) }
        do {
            return try await released(jobID: jobID, worker: worker)
        } catch let ended as ServerWaitEnded where ended.reason == .leaseRanOut {
            return false
        }
    }

    func released(jobID: Int64, worker: String) async throws -> Bool {
        try await session.transaction { s in
            try await s.first("""
                UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL, lease_host = NULL, lease_pid = NULL,
                    updated_at = kiln_now()
                WHERE job_id = \(jobID) AND lease_owner = \(worker) AND state = 'running' RETURNING job_id
                """) != nil
        }
    }

    public func markCancelled(jobID: Int64, worker: String) async throws {
        defer { holding(jobID, nil) }
        try await session.transaction { s in
            try await s.execute("""
                UPDATE jobs SET state = 'cancelled', lease_owner = NULL, lease_expires = NULL, lease_host = NULL, lease_pid = NULL,
                    updated_at = kiln_now() WHERE job_id = \(jobID) AND lease_owner = \(worker)
                """)
        }
    }
}
