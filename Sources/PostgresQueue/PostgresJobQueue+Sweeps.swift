import Foundation
import PostgresNIO
import RenderQueue

/// Sweeps and the commands that act on many jobs: cancel, retry, pause, prune.
extension PostgresJobQueue {
    /// Jobs go in as arrays, `sweepInsertBatch` per statement, so a 100,000-job sweep takes a few
    /// round trips instead of one per job; job ids follow the order of `jobs`.
    public func insertSweep(name: String?, spec: String, priority: Int, model: String, config: String?,
                            jobs: [(steps: Int, requestJSON: String)], blobs: [String: Data]) async throws -> Int64 {
        let id = try await session.transaction { s in
            try await PostgresJobQueue.store(blobs, s)
            guard let sweepID = try await s.value("INSERT INTO sweeps (name, spec) VALUES (\(name), \(spec)) RETURNING sweep_id", as: Int64.self) else {
                throw PostgresQueueFailure("\(displayName): INSERT returned no sweep id")
            }
            var start = 0
            while start < jobs.count {
                let batch = jobs[start..<min(start + PostgresJobQueue.sweepInsertBatch, jobs.count)]
                let requests = batch.map(\.requestJSON), steps = batch.map(\.steps)
                try await s.execute("""
                    INSERT INTO jobs (sweep_id, model, config, request, priority, steps)
                    SELECT \(sweepID), \(model), \(config), t.request, \(priority), t.steps
                    FROM unnest(\(requests)::text[], \(steps)::bigint[]) WITH ORDINALITY AS t(request, steps, n)
                    ORDER BY t.n
                    """)
                start += batch.count
            }
            return sweepID
        }
        // A large sweep changes the table at once. Without fresh statistics PostgreSQL takes the
        // ready jobs for a handful and sorts them all on every claim (85 ms at 100,000) instead
        // of reading the claim-order index (0.4 ms), until autovacuum's next analyze. The sweep
        // is committed either way: a role that may not analyze only waits for autovacuum.
        if jobs.count >= PostgresJobQueue.analyzeAfter {
            do { try await session.autocommit { try await $0.execute("ANALYZE jobs") } } catch {}
        }
        return id
    }

    /// Sweeps of at least this many jobs refresh the jobs table's statistics.
    static let analyzeAfter = 1_000

    static let sweepInsertBatch = 5_000

    public func cancel(_ selection: JobSelection) async throws -> Int {
        try await session.transaction { s in
            var touched = 0
            for query in PostgresJobQueue.cancelQueries(selection) { touched += try await s.count(query) }
            return touched
        }
    }

    public func retry(_ selection: JobSelection) async throws -> Int {
        let query = PostgresJobQueue.retryQuery(selection, now: Date().timeIntervalSince1970)
        return try await session.transaction { s in try await s.count(query) }
    }

    public func setPaused(_ paused: Bool, sweep: Int64?) async throws {
        let query = PostgresJobQueue.pauseQuery(paused, sweep: sweep)
        try await session.transaction { s in
            if try await s.rows(query).isEmpty, let sweep { throw PostgresJobQueue.noSweep(sweep) }
        }
    }

    /// `cancel`'s statements: queued jobs cancelled, then running ones asked to stop; each
    /// returns how many it changed. One transaction.
    static func cancelQueries(_ selection: JobSelection) -> [PostgresQuery] {
        [filtered("""
            WITH changed AS (UPDATE jobs SET state = 'cancelled', updated_at = kiln_now() WHERE state = 'queued' AND
            """, selection, " RETURNING 1) SELECT count(*) FROM changed"),
         filtered("""
            WITH changed AS (UPDATE jobs SET cancel_requested = 1 WHERE state = 'running' AND
            """, selection, " RETURNING 1) SELECT count(*) FROM changed")]
    }

    /// `retry`'s statement, returning how many jobs it put back.
    static func retryQuery(_ selection: JobSelection, now: Double) -> PostgresQuery {
        filtered("""
            WITH changed AS (
                UPDATE jobs SET state = 'queued', failures = 0, cancel_requested = 0, not_before = 0, error = NULL,
                    lease_owner = NULL, lease_expires = NULL, updated_at = kiln_now()
                WHERE (state IN ('failed', 'cancelled')
                       OR (state = 'running' AND cancel_requested = 1 AND COALESCE(lease_expires, 0) < \(now)))
                  AND
            """, selection, " RETURNING 1) SELECT count(*) FROM changed")
    }

    /// `setPaused`'s statement: for a sweep it returns a row when the sweep exists.
    static func pauseQuery(_ paused: Bool, sweep: Int64?) -> PostgresQuery {
        let flag = paused ? 1 : 0
        if let sweep { return "UPDATE sweeps SET paused = \(flag) WHERE sweep_id = \(sweep) RETURNING sweep_id" }
        return """
            INSERT INTO queue_state (key, value) VALUES ('paused', \(String(flag)))
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """
    }

    static func noSweep(_ sweep: Int64) -> QueueError { QueueError.invalidSpec(key: "sweep", reason: "\(sweep) does not exist") }

    public func pruneCheckpoints() async throws -> Int {
        try await session.transaction { s in
            try await s.count("""
                WITH gone AS (DELETE FROM checkpoints WHERE job_id IN (SELECT job_id FROM jobs WHERE state IN ('done', 'failed', 'cancelled'))
                              RETURNING 1)
                SELECT count(*) FROM gone
                """)
        }
    }

    /// `before` + the selection's condition (over rows with `job_id` and `sweep_id`) + `after`,
    /// its values appended to whatever `before` bound: the listed jobs, else a sweep's, else all.
    static func filtered(_ before: PostgresQuery, _ selection: JobSelection, _ after: String) -> PostgresQuery {
        var binds = before.binds
        let condition: String
        if !selection.jobs.isEmpty {
            binds.append(selection.jobs)
            condition = "job_id = ANY($\(binds.count))"
        } else if let sweep = selection.sweep {
            binds.append(sweep)
            condition = "sweep_id = $\(binds.count)"
        } else {
            condition = "TRUE"
        }
        return PostgresQuery(unsafeSQL: before.sql + " " + condition + after, binds: binds)
    }
}
