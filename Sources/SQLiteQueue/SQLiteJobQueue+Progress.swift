import Foundation
import GRDB
import RenderQueue

/// Progress figures the worker prints: images per job, steps left and the mean step time.
extension SQLiteJobQueue {
    public func imageCount(jobID: Int64) async throws -> Int {
        try await pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM outputs WHERE job_id = ?", arguments: [jobID]) ?? 0 }
    }

    public func progress() async throws -> QueueProgress {
        try await pool.read { db in
            let left = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(MAX(steps - step, 0)), 0) FROM jobs WHERE state IN ('queued', 'running')") ?? 0
            let mean = try Double.fetchOne(db, sql: "SELECT AVG(e.value) FROM jobs j, json_each(j.step_seconds) e")
            return QueueProgress(stepsLeft: left, secondsPerStep: mean)
        }
    }
}

/// SQLite's errors say whether a retry can help: a busy, locked, full or failing database can
/// recover; a constraint or a corrupt file cannot.
extension DatabaseError: QueueDatabaseFailure {
    public var failureKind: FailureKind {
        let transient: [ResultCode] = [.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_NOMEM]
        return transient.contains(resultCode.primaryResultCode) ? .transient : .permanent
    }
    public var isDiskFull: Bool { resultCode.primaryResultCode == .SQLITE_FULL }
}
