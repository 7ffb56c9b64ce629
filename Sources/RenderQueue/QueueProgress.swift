import Foundation
import GRDB

/// How much work is left in the queue, from the steps jobs still have to run and the mean of the
/// step times workers have measured (`jobs.step_seconds`).
public struct QueueProgress: Sendable, Equatable {
    /// Steps of queued and running jobs not yet done.
    public var stepsLeft: Int
    /// Mean measured seconds per step, nil before any step was measured.
    public var secondsPerStep: Double?
    /// Seconds the queue still needs at that rate on one worker.
    public var eta: Double? { secondsPerStep.map { Double(stepsLeft) * $0 } }
}

extension JobStore {
    /// Images stored for a job.
    public func imageCount(jobID: Int64) throws -> Int {
        try pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM outputs WHERE job_id = ?", arguments: [jobID]) ?? 0 }
    }

    public func progress() throws -> QueueProgress {
        try pool.read { db in
            let left = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(MAX(steps - step, 0)), 0) FROM jobs WHERE state IN ('queued', 'running')") ?? 0
            let mean = try Double.fetchOne(db, sql: "SELECT AVG(e.value) FROM jobs j, json_each(j.step_seconds) e")
            return QueueProgress(stepsLeft: left, secondsPerStep: mean)
        }
    }
}
