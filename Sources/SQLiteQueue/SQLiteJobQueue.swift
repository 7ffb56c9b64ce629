import Foundation
import GRDB
import KilnBasics
import RenderQueue
import RenderRecord

/// The queue in one SQLite file (WAL, shared by any number of worker processes on one machine):
/// enqueueing, atomic claims under a lease (BEGIN IMMEDIATE + UPDATE ... RETURNING), checkpoints,
/// completion and failure with retry. Every state change is one transaction.
public final class SQLiteJobQueue: JobQueue {
    public let database: QueueDatabase
    var pool: DatabasePool { database.pool }

    public init(_ database: QueueDatabase) { self.database = database }

    /// Opens (creating and migrating when needed) the queue file at `path`.
    public convenience init(path: String) throws { self.init(try QueueDatabase(path: path)) }

    public var displayName: String { database.path }

    public func insertJob(model: String, config: String?, request: RenderRequest, requestJSON json: String, blobs: [String: Data],
                          priority: Int, sweepID: Int64?, maxAttempts: Int) async throws -> Int64 {
        try await pool.write { db in
            try SQLiteJobQueue.store(blobs, db)
            try db.execute(sql: """
                INSERT INTO jobs (sweep_id, model, config, request, priority, steps, max_attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [sweepID, model, config, json, priority, request.steps, maxAttempts])
            return db.lastInsertedRowID
        }
    }

    static func store(_ blobs: [String: Data], _ db: Database) throws {
        for (hash, data) in blobs {
            try db.execute(sql: "INSERT INTO blobs (sha256, data) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING", arguments: [hash, data])
        }
    }

    /// The bytes stored under `sha256`, if any.
    public func blob(_ sha256: String) async throws -> Data? {
        try await pool.read { db in try Data.fetchOne(db, sql: "SELECT data FROM blobs WHERE sha256 = ?", arguments: [sha256]) }
    }

    /// One UPDATE ... RETURNING inside BEGIN IMMEDIATE; a dead process on this host is seen by
    /// the SQL function `kiln_process_gone` (see `QueueDatabase`).
    public func claim(worker: String, leaseSeconds: Double, now: Double, identity: WorkerIdentity) async throws -> ClaimedJob? {
        try await pool.writeWithoutTransaction { db in
            var claimed: ClaimedJob?
            try db.inTransaction(.immediate) {
                // A running job whose cancel was requested and whose worker is gone would
                // otherwise stay running forever: it is cancelled now.
                try db.execute(sql: """
                    UPDATE jobs SET state = 'cancelled', lease_owner = NULL, lease_expires = NULL,
                           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                    WHERE state = 'running' AND cancel_requested = 1
                      AND (lease_expires < :now OR (lease_host = :host AND kiln_process_gone(lease_pid)))
                    """, arguments: ["now": now, "host": identity.host])
                // A job whose stored request does not decode fails alone, naming itself, and the
                // claim goes on to the next one (bounded, so a flood of them cannot spin here).
                for _ in 0..<JobRequests.maxUndecodablePerClaim {
                let row = try Row.fetchOne(db, sql: """
                    UPDATE jobs SET state = 'running', lease_owner = :worker, lease_expires = :expires,
                           lease_host = :host, lease_pid = :pid, attempts = attempts + 1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                    WHERE job_id = (\(SQLiteJobQueue.nextJob))
                    RETURNING job_id, sweep_id, model, config, request, attempts
                    """, arguments: ["worker": worker, "expires": now + leaseSeconds, "now": now,
                                                "host": identity.host, "pid": Int64(identity.pid)])
                guard let row else { return .commit }
                let id: Int64 = row["job_id"]
                let request: RenderRequest
                switch JobRequests.decode(row["request"], jobID: id) {
                case .success(let r): request = r
                case .failure(let why):
                    try db.execute(sql: """
                        UPDATE jobs SET state = 'failed', error = ?, error_kind = 'permanent', lease_owner = NULL,
                               lease_expires = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE job_id = ?
                        """, arguments: [why.description, id])
                    continue
                }
                let checkpoint = try Data.fetchOne(db, sql: "SELECT state FROM checkpoints WHERE job_id = ?", arguments: [id])
                claimed = ClaimedJob(jobID: id, sweepID: row["sweep_id"], model: row["model"], config: row["config"],
                                     request: request, attempt: row["attempts"], checkpoint: checkpoint)
                return .commit
                }
                return .commit
            }
            return claimed
        }
    }

    /// The job a claim takes: the first ready one in the claim order, read from the partial index
    /// `jobs_claim_order` (queued and running jobs by priority DESC, job_id; migration 0006), so
    /// the claim stops at the first eligible entry instead of sorting every ready job. The index
    /// is named because, without statistics, SQLite would pick `jobs_ready` and sort.
    static let nextJob = """
        SELECT j.job_id FROM jobs j INDEXED BY jobs_claim_order LEFT JOIN sweeps s ON s.sweep_id = j.sweep_id
        WHERE j.state IN ('queued', 'running')
          AND ((j.state = 'queued' AND j.not_before <= :now)
               OR (j.state = 'running' AND j.lease_expires < :now)
               OR (j.state = 'running' AND j.lease_host = :host AND kiln_process_gone(j.lease_pid)))
          AND j.cancel_requested = 0
          AND COALESCE(s.paused, 0) = 0
          AND NOT EXISTS (SELECT 1 FROM queue_state WHERE key = 'paused' AND value = '1')
        ORDER BY j.priority DESC, j.job_id ASC LIMIT 1
        """

    public func renewLease(jobID: Int64, worker: String, leaseSeconds: Double, now: Double) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE jobs SET lease_expires = ? WHERE job_id = ? AND lease_owner = ? AND state = 'running'",
                           arguments: [now + leaseSeconds, jobID, worker])
            return db.changesCount == 1
        }
    }

    /// Replaces the job's checkpoint and records progress, in one transaction.
    public func saveCheckpoint(jobID: Int64, worker: String, stage: String, step: Int, steps: Int, state: Data,
                               preview: Data?, stepSeconds: Double, leaseSeconds: Double) async throws -> CheckpointOutcome {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT lease_owner, state, cancel_requested FROM jobs WHERE job_id = ?",
                                             arguments: [jobID]),
                  (row["lease_owner"] as String?) == worker, (row["state"] as String) == "running" else { return .leaseLost }
            if (row["cancel_requested"] as Int) == 1 { return .cancelled }
            try db.execute(sql: """
                INSERT INTO checkpoints (job_id, stage, step, state, preview, preview_step) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (job_id) DO UPDATE SET stage = excluded.stage, step = excluded.step, state = excluded.state,
                    preview = coalesce(excluded.preview, checkpoints.preview),
                    preview_step = coalesce(excluded.preview_step, checkpoints.preview_step),
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                """, arguments: [jobID, stage, step, state, preview, preview == nil ? nil : step])
            try db.execute(sql: """
                UPDATE jobs SET step = ?, steps = ?, step_seconds = json_insert(step_seconds, '$[#]', ?), lease_expires = ?,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE job_id = ?
                """, arguments: [step, steps, stepSeconds, Date().timeIntervalSince1970 + leaseSeconds, jobID])
            return .keepGoing
        }
    }

    /// Stores the outputs and marks the job done in the same transaction; false if the lease was lost.
    public func finish(jobID: Int64, worker: String, attempt: Int, images: [FinishedImage], renderSeconds: Double) async throws -> Bool {
        try await pool.write { db in
            guard let owner = try String.fetchOne(db, sql: "SELECT lease_owner FROM jobs WHERE job_id = ? AND state = 'running'", arguments: [jobID]),
                  owner == worker else { return false }
            for image in images {
                try db.execute(sql: """
                    INSERT INTO outputs (job_id, image_index, png_sha256, png, output_path, provenance, watermark_written,
                                         watermark_read, render_seconds, worker, attempt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [jobID, image.index, SHA256.hex(image.png), image.outputPath == nil ? image.png : nil,
                                     image.outputPath, image.provenance, image.watermarkWritten, image.watermarkRead,
                                     renderSeconds, worker, attempt])
            }
            try db.execute(sql: """
                UPDATE jobs SET state = 'done', step = steps, lease_owner = NULL, lease_expires = NULL, lease_host = NULL,
                    lease_pid = NULL, error = NULL, error_kind = NULL,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE job_id = ?
                """, arguments: [jobID])
            return true
        }
    }

    public func recordFailure(jobID: Int64, worker: String, error: String, kind: FailureKind, backoff: Double,
                              untilDone: Bool, now: Double) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE jobs SET failures = failures + 1, error = :error, error_kind = :kind, lease_owner = NULL,
                    lease_expires = NULL, lease_host = NULL, lease_pid = NULL,
                    state = CASE WHEN :kind = 'permanent' THEN 'failed' WHEN :untilDone THEN 'queued'
                                 WHEN failures + 1 >= max_attempts THEN 'failed' ELSE 'queued' END,
                    not_before = :now + MIN(:backoff * (1 << min(failures, 20)), CASE WHEN :untilDone THEN 300 ELSE 1e18 END),
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE job_id = :job AND lease_owner = :worker
                """, arguments: ["error": error, "kind": kind.rawValue, "backoff": backoff, "untilDone": untilDone, "now": now,
                                 "job": jobID, "worker": worker])
            return try String.fetchOne(db, sql: "SELECT state FROM jobs WHERE job_id = ?", arguments: [jobID]) == "queued"
        }
    }

    @discardableResult
    public func release(jobID: Int64, worker: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL, lease_host = NULL, lease_pid = NULL,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE job_id = ? AND lease_owner = ? AND state = 'running'
                """, arguments: [jobID, worker])
            return db.changesCount == 1
        }
    }

    public func waitForWork(seconds: Double, unless stop: StopRequest) async { await pollForWork(seconds: seconds, unless: stop) }

    public func hasPendingWork() async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (
                    SELECT 1 FROM jobs j LEFT JOIN sweeps s ON s.sweep_id = j.sweep_id
                    WHERE j.state IN ('queued', 'running') AND j.cancel_requested = 0 AND COALESCE(s.paused, 0) = 0)
                  AND NOT EXISTS (SELECT 1 FROM queue_state WHERE key = 'paused' AND value = '1')
                """) ?? false
        }
    }

    public func markCancelled(jobID: Int64, worker: String) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE jobs SET state = 'cancelled', lease_owner = NULL, lease_expires = NULL, lease_host = NULL, lease_pid = NULL,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE job_id = ? AND lease_owner = ?
                """, arguments: [jobID, worker])
        }
    }

    public func counts() async throws -> [String: Int] {
        try await pool.read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") { out[row["state"]] = row["n"] }
            return out
        }
    }
}
