import Foundation
import PostgresNIO
import RenderQueue

/// What the worker asks about the queue as a whole: counts, pending work, progress, and waiting
/// for new work.
extension PostgresJobQueue {
    public func hasPendingWork() async throws -> Bool {
        try await session.autocommit { s in
            try await s.value("""
                SELECT EXISTS (
                    SELECT 1 FROM jobs j LEFT JOIN sweeps s ON s.sweep_id = j.sweep_id
                    WHERE j.state IN ('queued', 'running') AND j.cancel_requested = 0 AND COALESCE(s.paused, 0) = 0)
                  AND NOT EXISTS (SELECT 1 FROM queue_state WHERE key = 'paused' AND value = '1')
                """, as: Bool.self) ?? false
        }
    }

    /// Waits for a NOTIFY on `kiln_jobs` (sent when a statement leaves a job queued, or on pause
    /// and resume), for `seconds`, or for `stop`, whichever comes first; a notification that
    /// came since the last claim began returns at once. Where notifications never arrive (a
    /// pooler in transaction mode) this is plain polling.
    public func waitForWork(seconds: Double, unless stop: StopRequest) async {
        await session.listenForJobs()
        _ = await session.wake.wait(until: Date().addingTimeInterval(max(seconds, 0)), unless: stop)
    }

    public func counts() async throws -> [String: Int] {
        try await session.autocommit { s in
            var out: [String: Int] = [:]
            for row in try await s.rows("SELECT state, count(*) FROM jobs GROUP BY state") {
                let (state, n) = try row.decode((String, Int).self)
                out[state] = n
            }
            return out
        }
    }

    public func imageCount(jobID: Int64) async throws -> Int {
        try await session.autocommit { s in try await s.count("SELECT count(*) FROM outputs WHERE job_id = \(jobID)") }
    }

    public func progress() async throws -> QueueProgress {
        try await session.autocommit { s in
            let left = try await s.count("SELECT COALESCE(SUM(GREATEST(steps - step, 0)), 0)::bigint FROM jobs WHERE state IN ('queued', 'running')")
            let mean = try await s.value("""
                SELECT AVG(e.value::double precision) FROM jobs j, jsonb_array_elements_text(j.step_seconds::jsonb) e
                """, as: Double.self)
            return QueueProgress(stepsLeft: left, secondsPerStep: mean)
        }
    }
}
