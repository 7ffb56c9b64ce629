import Foundation
import GRDB
import RenderQueue

/// A queue file opened read-only, for the commands that only look: a missing file is refused
/// rather than created, another program's database is refused, and a queue on a read-only file
/// system is opened as immutable (see `QueueDatabase.openReadOnly`).
public final class SQLiteQueueReader: QueueReader, Sendable {
    public let path: String
    let queue: DatabaseQueue

    public init(path: String) throws {
        self.path = path
        queue = try QueueDatabase.openReadOnly(path: path)
    }

    public var displayName: String { path }

    /// User SQL on the read-only connection: a statement that would write is refused before it
    /// runs, and one still running after `timeout` seconds is interrupted.
    public nonisolated(nonsending) func query(_ sql: String, timeout: Double) async throws -> ReportTable {
        var table = ReportTable(columns: [], rows: [])
        try await forEachRow(sql: sql, timeout: timeout, header: { table.columns = $0 }, row: { table.rows.append($0) })
        return table
    }

    public func exists(sweep id: Int64) async throws -> Bool {
        try await queue.read { try Bool.fetchOne($0, sql: "SELECT EXISTS (SELECT 1 FROM sweeps WHERE sweep_id = ?)", arguments: [id]) ?? false }
    }

    public func exists(job id: Int64) async throws -> Bool {
        try await queue.read { try Bool.fetchOne($0, sql: "SELECT EXISTS (SELECT 1 FROM jobs WHERE job_id = ?)", arguments: [id]) ?? false }
    }

    /// `query`, each row handed on as the cursor reads it. The callbacks cannot leave the
    /// caller, so the read runs there (`nonisolated(nonsending)`: on the caller's actor; the
    /// commands that read, `status`, `report`, `sheet` and `export`, run on the main actor, so
    /// the read never holds a thread of the cooperative pool).
    public nonisolated(nonsending) func forEachRow(sql: String, timeout: Double, header: ([String]) throws -> Void,
                                                   row: ([String?]) throws -> Void) async throws {
        try forEachRow(sql: sql, arguments: nil, timeout: timeout, header: header, row: row)
    }

    func forEachRow(sql: String, arguments: StatementArguments?, timeout: Double,
                    header: ([String]) throws -> Void, row body: ([String?]) throws -> Void) throws {
        guard timeout.isFinite, timeout > 0, timeout <= 86_400 else {
            throw QueueError.query("--timeout must be between 0 and 86400 seconds, not \(timeout)")
        }
        let queue = self.queue
        let deadline = DispatchWorkItem { queue.interrupt() }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        defer { deadline.cancel() }
        do {
            try queue.read { db in
                let statement = try SQLiteQueueReader.single(sql, db)
                guard statement.isReadonly else { throw QueueError.readOnlyViolation("the statement would modify the database") }
                let columns = statement.columnNames
                try header(columns)
                let cursor = try Row.fetchCursor(statement, arguments: arguments)
                while let row = try cursor.next() {
                    try body((0..<columns.count).map { i in SQLiteQueueReader.text(row[i] as DatabaseValue) })
                }
            }
        } catch let error as DatabaseError {
            if error.resultCode == .SQLITE_READONLY { throw QueueError.readOnlyViolation(error.message ?? "write refused") }
            if error.resultCode == .SQLITE_INTERRUPT {
                throw QueueError.query("stopped after \(timeout) s; narrow the query or raise --timeout")
            }
            throw QueueError.query(error.message ?? "\(error)")
        }
    }

    /// The one statement `sql` holds; more than one is refused in Kiln's words.
    static func single(_ sql: String, _ db: Database) throws -> Statement {
        let statements = try db.allStatements(sql: sql)
        guard let first = try statements.next() else { throw QueueError.query("--sql holds no statement") }
        // Whatever follows the first statement, even text that does not compile, makes it more than one.
        let second: Statement?
        do { second = try statements.next() } catch { second = first }
        guard second == nil else { throw QueueError.query(Report.oneStatement) }
        return first
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

    /// Counts by state, the running jobs with step/steps and ETA, the queue's steps left and
    /// ETA. A running job whose lease expired, or whose worker on this host is gone (as claims
    /// tell, `kiln_process_gone`), is marked "(worker gone)" and has no ETA: it waits for the
    /// next claim.
    public nonisolated(nonsending) func status() async throws -> ReportTable {
        var table = ReportTable(columns: [], rows: [])
        try forEachRow(sql: """
            SELECT 'total' AS what, state AS detail, COUNT(*) AS n, NULL AS eta FROM jobs GROUP BY state
            UNION ALL
            SELECT 'running', 'job ' || job_id || ' step ' || step || '/' || steps || ' on ' || COALESCE(lease_owner, '?')
                       || CASE WHEN gone THEN ' (worker gone)' ELSE '' END,
                   NULL,
                   CASE WHEN NOT gone AND json_array_length(step_seconds) > 0
                        THEN ROUND((steps - step) * (SELECT AVG(value) FROM json_each(step_seconds)), 1) END
            FROM (SELECT *, COALESCE(lease_expires < :now OR (lease_host = :host AND kiln_process_gone(lease_pid)), 0) AS gone
                  FROM jobs WHERE state = 'running')
            UNION ALL
            SELECT 'queue', SUM(MAX(steps - step, 0)) || ' steps left', NULL,
                   ROUND(SUM(MAX(steps - step, 0)) * (SELECT AVG(e.value) FROM jobs j, json_each(j.step_seconds) e), 1)
            FROM jobs WHERE state IN ('queued', 'running')
            """, arguments: ["now": Date().timeIntervalSince1970, "host": WorkerIdentity.current.host], timeout: 60,
            header: { table.columns = $0 }, row: { table.rows.append($0) })
        return table
    }

    /// Streams rows to `body` one at a time, so a night's worth of PNGs is never held in memory
    /// at once; on the caller's actor, as `forEachRow`.
    public nonisolated(nonsending) func forEachOutput(_ selection: JobSelection, _ body: (StoredOutput) throws -> Void) async throws {
        try outputs(selection, body)
    }

    /// `forEachOutput`'s read, synchronous where the callback is.
    func outputs(_ selection: JobSelection, _ body: (StoredOutput) throws -> Void) throws {
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

    public func sweepOutputs(_ sweep: Int64) async throws -> [(provenance: String, output: StoredOutput)] {
        try await queue.read { db in
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
