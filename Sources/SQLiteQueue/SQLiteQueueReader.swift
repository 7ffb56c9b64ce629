import Foundation
import GRDB
import RenderQueue

/// A queue file opened read-only, for the commands that only look: a missing file is refused
/// rather than created, another program's database is refused, and a queue on a read-only file
/// system is opened as immutable (see `QueueDatabase.openReadOnly`).
public final class SQLiteQueueReader: QueueReader {
    public let path: String
    let queue: DatabaseQueue

    public init(path: String) throws {
        self.path = path
        queue = try QueueDatabase.openReadOnly(path: path)
    }

    public var displayName: String { path }

    /// User SQL on the read-only connection: a statement that would write is refused before it
    /// runs, and one still running after `timeout` seconds is interrupted.
    public func query(_ sql: String, timeout: Double) throws -> ReportTable {
        guard timeout.isFinite, timeout > 0, timeout <= 86_400 else {
            throw QueueError.query("--timeout must be between 0 and 86400 seconds, not \(timeout)")
        }
        let queue = self.queue
        let deadline = DispatchWorkItem { queue.interrupt() }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        defer { deadline.cancel() }
        do {
            return try queue.read { db in
                let statement = try db.makeStatement(sql: sql)
                guard statement.isReadonly else { throw QueueError.readOnlyViolation("the statement would modify the database") }
                let columns = statement.columnNames
                var rows: [[String?]] = []
                let cursor = try Row.fetchCursor(statement)
                while let row = try cursor.next() {
                    rows.append((0..<columns.count).map { i in SQLiteQueueReader.text(row[i] as DatabaseValue) })
                }
                return ReportTable(columns: columns, rows: rows)
            }
        } catch let error as QueueError {
            throw error
        } catch let error as DatabaseError {
            if error.resultCode == .SQLITE_READONLY { throw QueueError.readOnlyViolation(error.message ?? "write refused") }
            if error.resultCode == .SQLITE_INTERRUPT {
                throw QueueError.query("stopped after \(timeout) s; narrow the query or raise --timeout")
            }
            throw QueueError.query(error.message ?? "\(error)")
        }
    }

    /// A value as `kiln report` prints it.
    static func text(_ value: DatabaseValue) -> String? {
        switch value.storage {
        case .null: return nil
        case .int64(let n): return String(n)
        case .double(let d): return String(d)
        case .string(let s): return s
        case .blob(let b): return "<\(b.count) bytes>"
        }
    }

    public func status() throws -> ReportTable {
        try query("""
            SELECT 'total' AS what, state AS detail, COUNT(*) AS n, NULL AS eta FROM jobs GROUP BY state
            UNION ALL
            SELECT 'running', 'job ' || job_id || ' step ' || step || '/' || steps || ' on ' || COALESCE(lease_owner, '?'),
                   NULL,
                   CASE WHEN json_array_length(step_seconds) > 0
                        THEN ROUND((steps - step) * (SELECT AVG(value) FROM json_each(step_seconds)), 1) END
            FROM jobs WHERE state = 'running'
            UNION ALL
            SELECT 'queue', SUM(MAX(steps - step, 0)) || ' steps left', NULL,
                   ROUND(SUM(MAX(steps - step, 0)) * (SELECT AVG(e.value) FROM jobs j, json_each(j.step_seconds) e), 1)
            FROM jobs WHERE state IN ('queued', 'running')
            """, timeout: 60)
    }

    /// Streams rows to `body` one at a time, so a night's worth of PNGs is never held in memory at once.
    public func forEachOutput(_ selection: JobSelection, _ body: (StoredOutput) throws -> Void) throws {
        try queue.read { db in
            // The job selection of cancel and retry (job_id is the join column, sweep_id is jobs').
            let filter = SQLiteJobQueue.filter(selection)
            let rows = try Row.fetchCursor(db, sql: """
                SELECT job_id, o.image_index, o.png_sha256, o.png, o.output_path FROM outputs o JOIN jobs j USING (job_id)
                WHERE \(filter.sql) ORDER BY job_id, o.image_index
                """, arguments: filter.arguments)
            while let row = try rows.next() {
                try body(StoredOutput(jobID: row["job_id"], imageIndex: row["image_index"], sha256: row["png_sha256"],
                                      png: row["png"], outputPath: row["output_path"]))
            }
        }
    }

    public func sweepOutputs(_ sweep: Int64) throws -> [(provenance: String, output: StoredOutput)] {
        try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT o.job_id, o.image_index, o.png_sha256, o.provenance, o.png, o.output_path
                FROM outputs o JOIN jobs j USING (job_id) WHERE j.sweep_id = ? ORDER BY o.job_id, o.image_index
                """, arguments: [sweep]).map { row in
                (row["provenance"], StoredOutput(jobID: row["job_id"], imageIndex: row["image_index"], sha256: row["png_sha256"],
                                                 png: row["png"], outputPath: row["output_path"]))
            }
        }
    }
}
