import Foundation
import GRDB
import Pipelines

extension JobStore {
    /// Inserts a sweep and all its jobs in one transaction. `requests` must already be validated.
    public func enqueue(sweep spec: SweepSpec, model: String, config: String?, requests: [RenderRequest],
                        blobs: [String: Data] = [:]) throws -> (sweepID: Int64, jobs: Int) {
        for r in requests { try JobStore.checkInputs(r, blobs: blobs) }
        let encoded = try requests.map { try JobStore.encode($0) }
        return try pool.write { db in
            try JobStore.store(blobs, db)
            try db.execute(sql: "INSERT INTO sweeps (name, spec) VALUES (?, ?)", arguments: [spec.name, spec.sourceJSON])
            let sweepID = db.lastInsertedRowID
            let statement = try db.makeStatement(sql: """
                INSERT INTO jobs (sweep_id, model, config, request, priority, steps) VALUES (?, ?, ?, ?, ?, ?)
                """)
            for (request, json) in zip(requests, encoded) {
                try statement.execute(arguments: [sweepID, model, config, json, spec.priority, request.steps])
            }
            return (sweepID, requests.count)
        }
    }

    /// Requests cancellation: queued jobs are cancelled at once, running ones stop at their next step.
    public func cancel(jobs: [Int64]? = nil, sweep: Int64? = nil) throws -> Int {
        try pool.write { db in
            let filter = try JobStore.filter(jobs: jobs, sweep: sweep)
            try db.execute(sql: "UPDATE jobs SET state = 'cancelled', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE state = 'queued' AND \(filter.sql)", arguments: filter.arguments)
            var n = db.changesCount
            try db.execute(sql: "UPDATE jobs SET cancel_requested = 1 WHERE state = 'running' AND \(filter.sql)", arguments: filter.arguments)
            n += db.changesCount
            return n
        }
    }

    /// Puts failed or cancelled jobs back in the queue (keeping their checkpoints), and running
    /// jobs whose cancel was requested after their worker's lease ran out.
    public func retry(jobs: [Int64]? = nil, sweep: Int64? = nil) throws -> Int {
        try pool.write { db in
            let filter = try JobStore.filter(jobs: jobs, sweep: sweep)
            try db.execute(sql: """
                UPDATE jobs SET state = 'queued', failures = 0, cancel_requested = 0, not_before = 0, error = NULL,
                    lease_owner = NULL, lease_expires = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE (state IN ('failed', 'cancelled')
                       OR (state = 'running' AND cancel_requested = 1 AND COALESCE(lease_expires, 0) < ?))
                  AND \(filter.sql)
                """, arguments: [Date().timeIntervalSince1970] + filter.arguments)
            return db.changesCount
        }
    }

    /// Pauses or resumes the whole queue, or one sweep.
    public func setPaused(_ paused: Bool, sweep: Int64? = nil) throws {
        try pool.write { db in
            if let sweep {
                try db.execute(sql: "UPDATE sweeps SET paused = ? WHERE sweep_id = ?", arguments: [paused ? 1 : 0, sweep])
                guard db.changesCount == 1 else { throw QueueError.invalidSpec(key: "sweep", reason: "\(sweep) does not exist") }
            } else {
                try db.execute(sql: "INSERT INTO queue_state (key, value) VALUES ('paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               arguments: [paused ? "1" : "0"])
            }
        }
    }

    /// Deletes the checkpoints of finished (done, failed, cancelled) jobs.
    public func pruneCheckpoints() throws -> Int {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM checkpoints WHERE job_id IN (SELECT job_id FROM jobs WHERE state IN ('done', 'failed', 'cancelled'))")
            return db.changesCount
        }
    }

    static func filter(jobs: [Int64]?, sweep: Int64?) throws -> (sql: String, arguments: StatementArguments) {
        if let jobs, !jobs.isEmpty {
            return ("job_id IN (\(jobs.map { _ in "?" }.joined(separator: ",")))", StatementArguments(jobs))
        }
        if let sweep { return ("sweep_id = ?", [sweep]) }
        return ("1", [])
    }
}
