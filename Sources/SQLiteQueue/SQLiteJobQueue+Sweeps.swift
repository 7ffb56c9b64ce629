import Foundation
import GRDB
import RenderQueue
import RenderRecord

/// Sweeps and the commands that act on many jobs: cancel, retry, pause, prune.
extension SQLiteJobQueue {
    public func insertSweep(name: String?, spec: String, priority: Int, model: String, config: String?,
                            jobs: [(steps: Int, requestJSON: String)], blobs: [String: Data]) async throws -> Int64 {
        try await pool.write { db in
            try SQLiteJobQueue.store(blobs, db)
            try db.execute(sql: "INSERT INTO sweeps (name, spec) VALUES (?, ?)", arguments: [name, spec])
            let sweepID = db.lastInsertedRowID
            let statement = try db.makeStatement(sql: """
                INSERT INTO jobs (sweep_id, model, config, request, priority, steps) VALUES (?, ?, ?, ?, ?, ?)
                """)
            for job in jobs {
                try statement.execute(arguments: [sweepID, model, config, job.requestJSON, priority, job.steps])
            }
            return sweepID
        }
    }

    /// Queued jobs cancelled, running ones asked to stop, in one write transaction.
    public func cancel(_ selection: JobSelection) async throws -> Int {
        try await pool.write { db in
            let filter = SQLiteJobQueue.filter(selection)
            try db.execute(sql: "UPDATE jobs SET state = 'cancelled', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE state = 'queued' AND \(filter.sql)", arguments: filter.arguments)
            var n = db.changesCount
            try db.execute(sql: "UPDATE jobs SET cancel_requested = 1 WHERE state = 'running' AND \(filter.sql)", arguments: filter.arguments)
            n += db.changesCount
            return n
        }
    }

    public func retry(_ selection: JobSelection) async throws -> Int {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            let filter = SQLiteJobQueue.filter(selection)
            try db.execute(sql: """
                UPDATE jobs SET state = 'queued', failures = 0, cancel_requested = 0, not_before = 0, error = NULL,
                    lease_owner = NULL, lease_expires = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE (state IN ('failed', 'cancelled')
                       OR (state = 'running' AND cancel_requested = 1 AND COALESCE(lease_expires, 0) < ?))
                  AND \(filter.sql)
                """, arguments: [now] + filter.arguments)
            return db.changesCount
        }
    }

    public func setPaused(_ paused: Bool, sweep: Int64?) async throws {
        try await pool.write { db in
            if let sweep {
                try db.execute(sql: "UPDATE sweeps SET paused = ? WHERE sweep_id = ?", arguments: [paused ? 1 : 0, sweep])
                guard db.changesCount == 1 else { throw QueueError.invalidSpec(key: "sweep", reason: "\(sweep) does not exist") }
            } else {
                try db.execute(sql: "INSERT INTO queue_state (key, value) VALUES ('paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               arguments: [paused ? "1" : "0"])
            }
        }
    }

    public func pruneCheckpoints() async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM checkpoints WHERE job_id IN (SELECT job_id FROM jobs WHERE state IN ('done', 'failed', 'cancelled'))")
            return db.changesCount
        }
    }

    /// The WHERE clause of a job selection (over a table or join with `job_id` and `sweep_id`).
    static func filter(_ selection: JobSelection) -> (sql: String, arguments: StatementArguments) {
        if !selection.jobs.isEmpty {
            return ("job_id IN (\(selection.jobs.map { _ in "?" }.joined(separator: ",")))", StatementArguments(selection.jobs))
        }
        if let sweep = selection.sweep { return ("sweep_id = ?", [sweep]) }
        return ("1", [])
    }
}

/// The gallery's actions are the queue's own `cancel`, `retry` and `setPaused`.
extension SQLiteJobQueue: GalleryActions {}
