import Foundation
import PostgresNIO
import RenderQueue

/// A PostgreSQL queue opened for reading only (`status`, `report`, `sheet`, `export`): opening
/// never creates or migrates anything, and refuses a database without Kiln's schema or with a
/// newer one. Every read runs in a READ ONLY transaction.
public final class PostgresQueueReader: QueueReader, @unchecked Sendable {
    let session: PostgresSession

    public init(url: String) throws {
        session = try PostgresSession(PostgresLocation(url: url))
        try PostgresSchema.checkReadable(session)
    }

    public var displayName: String { session.location.displayName }

    /// User SQL as SQLiteQueueReader runs it: one statement (the extended query protocol refuses
    /// more), in `BEGIN READ ONLY` with `SET LOCAL statement_timeout`, so a write fails with
    /// SQLSTATE 25006 and a slow query is cancelled (57014).
    public func query(_ sql: String, timeout: Double) throws -> ReportTable {
        guard timeout.isFinite, timeout > 0, timeout <= 86_400 else {
            throw QueueError.query("--timeout must be between 0 and 86400 seconds, not \(timeout)")
        }
        let milliseconds = max(1, Int((timeout * 1000).rounded(.up)))
        do {
            return try session.transaction("BEGIN READ ONLY") { s in
                try s.execute(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(milliseconds)"))
                return try s.table(sql: sql)
            }
        } catch let failure as PostgresQueueFailure {
            switch failure.sqlState {
            case "25006": throw QueueError.readOnlyViolation(failure.serverMessage ?? "the statement would modify the database")
            case "57014": throw QueueError.query("stopped after \(timeout) s; narrow the query or raise --timeout")
            case nil: throw failure
            default: throw QueueError.query(failure.serverMessage ?? failure.description)
            }
        }
    }

    /// The table SQLiteQueueReader's status SQL gives, in the same order: counts by state, the
    /// running jobs with step/steps and ETA (in SQLite's index order: priority DESC, job_id),
    /// the queue's steps left and ETA.
    public func status() throws -> ReportTable {
        try query("""
            SELECT what, detail, n, eta FROM (
                SELECT 1 AS part, state COLLATE "C" AS k, 0 AS priority, 0::bigint AS id, 'total' AS what, state AS detail, COUNT(*) AS n,
                       NULL::double precision AS eta
                FROM jobs GROUP BY state
                UNION ALL
                SELECT 2, '', priority, job_id, 'running', 'job ' || job_id || ' step ' || step || '/' || steps || ' on ' || COALESCE(lease_owner, '?'),
                       NULL,
                       CASE WHEN jsonb_array_length(step_seconds::jsonb) > 0
                            THEN round((steps - step) * (SELECT AVG(e::double precision) FROM jsonb_array_elements_text(step_seconds::jsonb) e), 1) END
                FROM jobs WHERE state = 'running'
                UNION ALL
                SELECT 3, '', 0, 0, 'queue', SUM(GREATEST(steps - step, 0)) || ' steps left', NULL,
                       round(SUM(GREATEST(steps - step, 0)) * (SELECT AVG(e::double precision) FROM jobs j, jsonb_array_elements_text(j.step_seconds::jsonb) e), 1)
                FROM jobs WHERE state IN ('queued', 'running')
            ) parts ORDER BY part, k, priority DESC, id
            """, timeout: 60)
    }

    /// Outputs in pages of `outputPage` rows inside one REPEATABLE READ transaction: one
    /// consistent snapshot, never more than a page of PNGs in memory. `body` must not call this
    /// reader (its connection is busy until the last output).
    public func forEachOutput(_ selection: JobSelection, _ body: (StoredOutput) throws -> Void) throws {
        try session.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { s in
            var last: (job: Int64, image: Int) = (Int64.min, Int.min)
            while true {
                let rows = try s.rows(PostgresJobQueue.filtered("""
                    SELECT job_id, o.image_index, o.png_sha256, o.png, o.output_path FROM outputs o JOIN jobs j USING (job_id)
                    WHERE (job_id, o.image_index) > (\(last.job), \(last.image)) AND
                    """, selection, " ORDER BY job_id, o.image_index LIMIT \(PostgresQueueReader.outputPage)"))
                for row in rows {
                    let output = try PostgresQueueReader.output(row)
                    last = (output.jobID, output.imageIndex)
                    try body(output)
                }
                if rows.count < PostgresQueueReader.outputPage { return }
            }
        }
    }

    static let outputPage = 16

    public func sweepOutputs(_ sweep: Int64) throws -> [(provenance: String, output: StoredOutput)] {
        try session.transaction("BEGIN READ ONLY") { s in
            try s.rows("""
                SELECT o.job_id, o.image_index, o.png_sha256, o.png, o.output_path, o.provenance
                FROM outputs o JOIN jobs j USING (job_id) WHERE j.sweep_id = \(sweep) ORDER BY o.job_id, o.image_index
                """).map { row in
                (try row.decode((Int64, Int, String, Data?, String?, String).self).5, try PostgresQueueReader.output(row))
            }
        }
    }

    /// A row of (job_id, image_index, png_sha256, png, output_path, ...).
    static func output(_ row: PostgresRow) throws -> StoredOutput {
        var cells = row.makeIterator()
        func next<T: PostgresDecodable>(_ type: T.Type) throws -> T {
            guard let cell = cells.next() else { throw PostgresQueueFailure("an output row has too few columns") }
            return try cell.decode(T.self)
        }
        return StoredOutput(jobID: try next(Int64.self), imageIndex: try next(Int.self), sha256: try next(String.self),
                            png: try next(Data?.self), outputPath: try next(String?.self))
    }
}
