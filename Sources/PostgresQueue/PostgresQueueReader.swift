import Foundation
import PostgresNIO
import RenderQueue

/// A PostgreSQL queue opened for reading only (`status`, `report`, `sheet`, `export`): opening
/// never creates or migrates anything, and refuses a database without Kiln's schema or with a
/// newer one. Every read runs in a READ ONLY transaction.
public final class PostgresQueueReader: QueueReader, Sendable {
    let session: PostgresSession

    public init(url: String) async throws {
        session = try await PostgresSession(PostgresLocation(url: url))
        try await PostgresSchema.checkReadable(session)
    }

    public var displayName: String { session.location.displayName }

    /// User SQL as SQLiteQueueReader runs it: one statement (the extended query protocol refuses
    /// more), in `BEGIN READ ONLY` with `SET LOCAL statement_timeout`, so a write fails with
    /// SQLSTATE 25006 and a slow query is cancelled (57014). See `forEachRow`.
    public nonisolated(nonsending) func query(_ sql: String, timeout: Double) async throws -> ReportTable {
        var table = ReportTable(columns: [], rows: [])
        try await forEachRow(sql: sql, timeout: timeout, header: { table.columns = $0 }, row: { table.rows.append($0) })
        return table
    }

    /// The table SQLiteQueueReader's status SQL gives, in the same order: counts by state, the
    /// running jobs with step/steps and ETA (in SQLite's index order: priority DESC, job_id),
    /// the queue's steps left and ETA. A running job whose lease expired, or whose worker on this
    /// host is gone (the pids are tested here, as claims test them), is marked "(worker gone)"
    /// and has no ETA: it waits for the next claim.
    public nonisolated(nonsending) func status() async throws -> ReportTable {
        let identity = WorkerIdentity.current, now = Date().timeIntervalSince1970
        let pids = try await session.transaction("BEGIN READ ONLY") { s in
            try await s.rows("""
                SELECT DISTINCT lease_pid FROM jobs
                WHERE state = 'running' AND lease_host = \(identity.host) AND lease_pid IS NOT NULL
                """).map { try $0.decode(Int32.self) }
        }
        let gone = pids.filter(WorkerIdentity.processIsGone)
        var table = ReportTable(columns: [], rows: [])
        try await forEachRow("""
            SELECT what, detail, n, eta FROM (
                SELECT 1 AS part, state COLLATE "C" AS k, 0 AS priority, 0::bigint AS id, 'total' AS what, state AS detail, COUNT(*) AS n,
                       NULL::double precision AS eta
                FROM jobs GROUP BY state
                UNION ALL
                SELECT 2, '', priority, job_id, 'running', 'job ' || job_id || ' step ' || step || '/' || steps || ' on ' || COALESCE(lease_owner, '?')
                           || CASE WHEN gone THEN ' (worker gone)' ELSE '' END,
                       NULL,
                       CASE WHEN NOT gone AND jsonb_array_length(step_seconds::jsonb) > 0
                            THEN round((steps - step) * (SELECT AVG(e::double precision) FROM jsonb_array_elements_text(step_seconds::jsonb) e), 1) END
                FROM (SELECT *, COALESCE(lease_expires < \(now) OR (lease_host = \(identity.host) AND lease_pid = ANY(\(gone))), false) AS gone
                      FROM jobs WHERE state = 'running') running
                UNION ALL
                SELECT 3, '', 0, 0, 'queue', SUM(GREATEST(steps - step, 0)) || ' steps left', NULL,
                       round(SUM(GREATEST(steps - step, 0)) * (SELECT AVG(e::double precision) FROM jobs j, jsonb_array_elements_text(j.step_seconds::jsonb) e), 1)
                FROM jobs WHERE state IN ('queued', 'running')
            ) parts ORDER BY part, k, priority DESC, id
            """, timeout: 60, header: { table.columns = $0 }, row: { table.rows.append($0) })
        return table
    }

    /// Outputs in pages of `outputPage` rows inside one REPEATABLE READ transaction: one
    /// consistent snapshot, never more than a page of PNGs in memory. `body` must not call this
    /// reader (its connection is busy until the last output).
    public nonisolated(nonsending) func forEachOutput(_ selection: JobSelection, _ body: (StoredOutput) throws -> Void) async throws {
        try await session.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { s in
            var last: (job: Int64, image: Int) = (Int64.min, Int.min)
            while true {
                let rows = try await s.rows(PostgresJobQueue.filtered("""
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

    public func exists(sweep id: Int64) async throws -> Bool {
        try await session.transaction("BEGIN READ ONLY") { s in
            try await s.value("SELECT EXISTS (SELECT 1 FROM sweeps WHERE sweep_id = \(id))", as: Bool.self) ?? false
        }
    }

    public func exists(job id: Int64) async throws -> Bool {
        try await session.transaction("BEGIN READ ONLY") { s in
            try await s.value("SELECT EXISTS (SELECT 1 FROM jobs WHERE job_id = \(id))", as: Bool.self) ?? false
        }
    }

    public func sweepOutputs(_ sweep: Int64) async throws -> [(provenance: String, output: StoredOutput)] {
        try await session.transaction("BEGIN READ ONLY") { s in
            try await s.rows("""
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
