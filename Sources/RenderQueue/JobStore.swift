import Foundation
import GRDB
import ModelFiles
import Pipelines

/// A job as a worker sees it after claiming it.
public struct ClaimedJob: Sendable {
    public let jobID: Int64
    public let sweepID: Int64?
    public let model: String
    public let config: String?
    public let request: RenderRequest
    public let attempt: Int
    public let checkpoint: Data?
}

/// One image of a finished job, ready to be stored.
public struct FinishedImage: Sendable {
    public var index: Int
    public var png: Data
    public var outputPath: String?
    public var provenance: String
    public var watermarkWritten: String?
    public var watermarkRead: String?
}

/// Jobs in the database: enqueueing, atomic claims under a lease, checkpoints, completion and
/// failure with retry. Every state change is one transaction.
public struct JobStore: Sendable {
    public let database: QueueDatabase
    var pool: DatabasePool { database.pool }

    public init(_ database: QueueDatabase) { self.database = database }

    static func encode(_ request: RenderRequest) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(request), as: UTF8.self)
    }

    /// Adds one job, with the bytes of its input files (image, mask, latents) stored by hash in
    /// the same transaction; returns its id.
    @discardableResult
    public func enqueue(model: String, config: String? = nil, request: RenderRequest, blobs: [String: Data] = [:], priority: Int = 0,
                        sweepID: Int64? = nil, maxAttempts: Int = 3) throws -> Int64 {
        try request.validate()
        try JobStore.checkInputs(request, blobs: blobs)
        let json = try JobStore.encode(request)
        return try pool.write { db in
            try JobStore.store(blobs, db)
            try db.execute(sql: """
                INSERT INTO jobs (sweep_id, model, config, request, priority, steps, max_attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [sweepID, model, config, json, priority, request.steps, maxAttempts])
            return db.lastInsertedRowID
        }
    }

    /// Every input a request names must come with its bytes (or already be stored).
    static func checkInputs(_ request: RenderRequest, blobs: [String: Data]) throws {
        for (name, ref) in [("image", request.image), ("mask", request.mask), ("latents", request.latents)] {
            guard let ref else { continue }
            guard ref.sha256.count == 64, blobs[ref.sha256] != nil else {
                throw QueueError.invalidSpec(key: name, reason: "\(ref.file ?? ref.sha256) was not read; inputs are stored with the job")
            }
        }
    }

    static func store(_ blobs: [String: Data], _ db: Database) throws {
        for (hash, data) in blobs {
            try db.execute(sql: "INSERT INTO blobs (sha256, data) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING", arguments: [hash, data])
        }
    }

    /// The bytes stored under `sha256`, if any.
    public func blob(_ sha256: String) throws -> Data? {
        try pool.read { db in try Data.fetchOne(db, sql: "SELECT data FROM blobs WHERE sha256 = ?", arguments: [sha256]) }
    }

    /// Claims the highest-priority, oldest ready job for `worker`, atomically: one UPDATE ...
    /// RETURNING inside BEGIN IMMEDIATE. Ready means queued (past its retry backoff), or running
    /// under an expired lease, or running under a lease taken on `identity.host` by a process
    /// that no longer exists (taken over at once). The lease records `identity`.
    public func claim(worker: String, leaseSeconds: Double, now: Double = Date().timeIntervalSince1970,
                      identity: WorkerIdentity = .current) throws -> ClaimedJob? {
        try pool.writeWithoutTransaction { db in
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
                for _ in 0..<1000 {
                let row = try Row.fetchOne(db, sql: """
                    UPDATE jobs SET state = 'running', lease_owner = :worker, lease_expires = :expires,
                           lease_host = :host, lease_pid = :pid, attempts = attempts + 1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                    WHERE job_id = (
                        SELECT j.job_id FROM jobs j LEFT JOIN sweeps s ON s.sweep_id = j.sweep_id
                        WHERE ((j.state = 'queued' AND j.not_before <= :now)
                               OR (j.state = 'running' AND j.lease_expires < :now)
                               OR (j.state = 'running' AND j.lease_host = :host AND kiln_process_gone(j.lease_pid)))
                          AND j.cancel_requested = 0
                          AND COALESCE(s.paused, 0) = 0
                          AND NOT EXISTS (SELECT 1 FROM queue_state WHERE key = 'paused' AND value = '1')
                        ORDER BY j.priority DESC, j.job_id ASC LIMIT 1)
                    RETURNING job_id, sweep_id, model, config, request, attempts
                    """, arguments: ["worker": worker, "expires": now + leaseSeconds, "now": now,
                                                "host": identity.host, "pid": Int64(identity.pid)])
                guard let row else { return .commit }
                let id: Int64 = row["job_id"]
                let request: RenderRequest
                do {
                    request = try JSONDecoder().decode(RenderRequest.self, from: Data((row["request"] as String).utf8))
                } catch {
                    let why = "job \(id): its stored request does not decode (\(String(describing: error).prefix(200))); queue it again"
                    try db.execute(sql: """
                        UPDATE jobs SET state = 'failed', error = ?, error_kind = 'permanent', lease_owner = NULL,
                               lease_expires = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE job_id = ?
                        """, arguments: [why.split(whereSeparator: \.isNewline).joined(separator: " "), id])
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

    /// Extends the lease; false when the job is no longer this worker's (expired and reclaimed).
    public func renewLease(jobID: Int64, worker: String, leaseSeconds: Double, now: Double = Date().timeIntervalSince1970) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "UPDATE jobs SET lease_expires = ? WHERE job_id = ? AND lease_owner = ? AND state = 'running'",
                           arguments: [now + leaseSeconds, jobID, worker])
            return db.changesCount == 1
        }
    }

    /// What a worker learns when it saves a checkpoint.
    public enum CheckpointOutcome: Sendable { case keepGoing, cancelled, leaseLost }

    /// Replaces the job's checkpoint and records progress, in one transaction.
    public func saveCheckpoint(jobID: Int64, worker: String, stage: String, step: Int, steps: Int, state: Data,
                               stepSeconds: Double, leaseSeconds: Double) throws -> CheckpointOutcome {
        try pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT lease_owner, state, cancel_requested FROM jobs WHERE job_id = ?",
                                             arguments: [jobID]),
                  (row["lease_owner"] as String?) == worker, (row["state"] as String) == "running" else { return .leaseLost }
            if (row["cancel_requested"] as Int) == 1 { return .cancelled }
            try db.execute(sql: """
                INSERT INTO checkpoints (job_id, stage, step, state) VALUES (?, ?, ?, ?)
                ON CONFLICT (job_id) DO UPDATE SET stage = excluded.stage, step = excluded.step, state = excluded.state,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                """, arguments: [jobID, stage, step, state])
            try db.execute(sql: """
                UPDATE jobs SET step = ?, steps = ?, step_seconds = json_insert(step_seconds, '$[#]', ?), lease_expires = ?,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE job_id = ?
                """, arguments: [step, steps, stepSeconds, Date().timeIntervalSince1970 + leaseSeconds, jobID])
            return .keepGoing
        }
    }

    /// Stores the outputs and marks the job done in the same transaction; false if the lease was lost.
    public func finish(jobID: Int64, worker: String, attempt: Int, images: [FinishedImage], renderSeconds: Double) throws -> Bool {
        try pool.write { db in
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

    /// Records a failed render with its kind. A transient failure goes back to the queue after a
    /// backoff (`backoff` seconds, doubling: 30 s, 60 s, ...) while failures stay below the job's
    /// limit; a permanent one, or the last allowed, leaves the job failed with the error text.
    /// With `untilDone` (a full disk) the job is retried whatever its failures, the backoff capped
    /// at 5 minutes. Returns true when the job will be retried.
    @discardableResult
    public func fail(jobID: Int64, worker: String, error: String, kind: FailureKind = .transient, backoff: Double = 30,
                     untilDone: Bool = false, now: Double = Date().timeIntervalSince1970) throws -> Bool {
        try pool.write { db in
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

    /// Puts a running job back in the queue, keeping its checkpoint, and releases its lease:
    /// what a worker does when asked to stop. False when the job was no longer this worker's.
    @discardableResult
    public func release(jobID: Int64, worker: String) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: """
                UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL, lease_host = NULL, lease_pid = NULL,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE job_id = ? AND lease_owner = ? AND state = 'running'
                """, arguments: [jobID, worker])
            return db.changesCount == 1
        }
    }

    /// Whether any job may still become claimable: queued (now or after its retry backoff) or
    /// running under a lease, outside paused sweeps and a paused queue, not being cancelled.
    /// `kiln work --until-empty` waits while this is true.
    public func hasPendingWork() throws -> Bool {
        try pool.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (
                    SELECT 1 FROM jobs j LEFT JOIN sweeps s ON s.sweep_id = j.sweep_id
                    WHERE j.state IN ('queued', 'running') AND j.cancel_requested = 0 AND COALESCE(s.paused, 0) = 0)
                  AND NOT EXISTS (SELECT 1 FROM queue_state WHERE key = 'paused' AND value = '1')
                """) ?? false
        }
    }

    /// Marks a cancelled running job as cancelled (after the worker stopped at a step).
    public func markCancelled(jobID: Int64, worker: String) throws {
        try pool.write { db in
            try db.execute(sql: """
                UPDATE jobs SET state = 'cancelled', lease_owner = NULL, lease_expires = NULL, lease_host = NULL, lease_pid = NULL,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE job_id = ? AND lease_owner = ?
                """, arguments: [jobID, worker])
        }
    }

    /// Job counts by state.
    public func counts() throws -> [String: Int] {
        try pool.read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") { out[row["state"]] = row["n"] }
            return out
        }
    }
}
