import Foundation
import GRDB
import RenderQueue

/// What `kiln serve` reads, on the read-only connection, each read on GRDB's own queue and
/// awaited. Values are always bound (`?`); the only names put into statements are `v_outputs`
/// columns from the parameter table (`OutputColumns`).
extension SQLiteQueueReader: GalleryReader {
    /// Nothing runs beside a SQLite reader.
    public func run() async {}

    public func overview() async throws -> QueueOverview {
        try await queue.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") { counts[row["state"]] = row["n"] }
            let running = try Row.fetchAll(db, sql: """
                SELECT job_id, sweep_id, step, steps, lease_owner, (SELECT AVG(value) FROM json_each(step_seconds)) AS pace
                FROM jobs WHERE state = 'running' ORDER BY priority DESC, job_id LIMIT ?
                """, arguments: [PageRequest.maxLimit]).map {
                RunningJob(jobID: $0["job_id"], sweepID: $0["sweep_id"], step: $0["step"], steps: $0["steps"], worker: $0["lease_owner"],
                           secondsPerStep: $0["pace"])
            }
            let left = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(MAX(steps - step, 0)), 0) FROM jobs WHERE state IN ('queued', 'running')") ?? 0
            let pace = try Double.fetchOne(db, sql: "SELECT AVG(e.value) FROM jobs j, json_each(j.step_seconds) e")
            let paused = try String.fetchOne(db, sql: "SELECT value FROM queue_state WHERE key = 'paused'") == "1"
            return QueueOverview(counts: counts, running: running, stepsLeft: left, secondsPerStep: pace, paused: paused)
        }
    }

    public func sweeps(_ page: PageRequest) async throws -> QueuePage<SweepSummary> {
        try await queue.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sweeps") ?? 0
            let rows = try Row.fetchAll(db, sql: "\(SQLiteQueueReader.sweepSelect) ORDER BY s.sweep_id DESC LIMIT ? OFFSET ?",
                                        arguments: [page.limit, page.offset])
            return QueuePage(items: try rows.map { try SQLiteQueueReader.summary($0, db) }, total: total, page: page)
        }
    }

    public func sweep(_ id: Int64) async throws -> SweepSummary? {
        try await queue.read { db in
            try Row.fetchOne(db, sql: "\(SQLiteQueueReader.sweepSelect) WHERE s.sweep_id = ?", arguments: [id]).map {
                try SQLiteQueueReader.summary($0, db)
            }
        }
    }

    static let sweepSelect = """
        SELECT s.sweep_id, s.name, s.created_at, s.paused,
               (SELECT COUNT(*) FROM outputs o JOIN jobs j USING (job_id) WHERE j.sweep_id = s.sweep_id) AS outputs
        FROM sweeps s
        """

    static func summary(_ row: Row, _ db: Database) throws -> SweepSummary {
        let id: Int64 = row["sweep_id"]
        var counts: [String: Int] = [:]
        for c in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs WHERE sweep_id = ? GROUP BY state", arguments: [id]) {
            counts[c["state"]] = c["n"]
        }
        return SweepSummary(sweepID: id, name: row["name"], createdAt: row["created_at"], paused: (row["paused"] as Int) != 0,
                            counts: counts, outputs: row["outputs"])
    }

    public func sweepAxes(_ id: Int64) async throws -> [SweepAxis] {
        try await queue.read { db in
            try String.fetchOne(db, sql: "SELECT spec FROM sweeps WHERE sweep_id = ?", arguments: [id]).map(SweepAxis.axes(specJSON:)) ?? []
        }
    }

    public func sweepPage(_ id: Int64, orderedBy parameters: [String], page: PageRequest) async throws -> QueuePage<OutputCard> {
        let order = parameters.compactMap(OutputColumns.column(for:)).map { "\($0) NULLS LAST" } + ["job_id", "image_index"]
        return try await queue.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outputs o JOIN jobs j USING (job_id) WHERE j.sweep_id = ?",
                                         arguments: [id]) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(SQLiteQueueReader.cardColumns) FROM v_outputs WHERE sweep_id = ?
                ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?
                """, arguments: [id, page.limit, page.offset])
            return QueuePage(items: rows.map(SQLiteQueueReader.card), total: total, page: page)
        }
    }

    static let cardColumns = "output_id, job_id, sweep_id, image_index, seed, prompt, model, provenance"

    static func card(_ row: Row) -> OutputCard {
        OutputCard(outputID: row["output_id"], jobID: row["job_id"], sweepID: row["sweep_id"], imageIndex: row["image_index"],
                   seed: text(row["seed"] as DatabaseValue), prompt: row["prompt"], model: row["model"], provenance: row["provenance"])
    }

    public func output(_ id: Int64) async throws -> OutputDetail? {
        try await queue.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM v_outputs WHERE output_id = ?", arguments: [id]) else { return nil }
            let config = try String.fetchOne(db, sql: "SELECT config FROM jobs WHERE job_id = ?", arguments: [row["job_id"] as Int64])
            let shown = row.columnNames.filter { !["provenance", "step_seconds"].contains($0) }
            return OutputDetail(card: SQLiteQueueReader.card(row), columns: Array(shown),
                                values: shown.map { SQLiteQueueReader.text(row[$0] as DatabaseValue) }, config: config)
        }
    }

    public func outputImage(_ id: Int64) async throws -> StoredOutput? {
        try await queue.read { db in
            try Row.fetchOne(db, sql: "SELECT job_id, image_index, png_sha256, png, output_path FROM outputs WHERE output_id = ?",
                             arguments: [id]).map {
                StoredOutput(jobID: $0["job_id"], imageIndex: $0["image_index"], sha256: $0["png_sha256"], png: $0["png"],
                             outputPath: $0["output_path"])
            }
        }
    }

    public func job(_ id: Int64) async throws -> JobDetail? {
        try await queue.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT *, \(SQLiteQueueReader.firstOutput) FROM v_jobs WHERE job_id = ?",
                                             arguments: [id]),
                  let stored = try Row.fetchOne(db, sql: "SELECT request, config FROM jobs WHERE job_id = ?", arguments: [id]) else { return nil }
            let outputs = try Int64.fetchAll(db, sql: "SELECT output_id FROM outputs WHERE job_id = ? ORDER BY image_index", arguments: [id])
            let shown = row.columnNames.filter { $0 != "first_output" }
            return JobDetail(summary: SQLiteQueueReader.jobSummary(row), columns: Array(shown),
                             values: shown.map { SQLiteQueueReader.text(row[$0] as DatabaseValue) },
                             request: stored["request"], config: stored["config"], outputs: outputs)
        }
    }

    public func jobPreview(_ id: Int64) async throws -> JobPreview? {
        try await queue.read { db in
            // A queue last opened by a writer older than schema 7 has no preview columns.
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM pragma_table_info('checkpoints') WHERE name = 'preview'") == true,
                  let row = try Row.fetchOne(db, sql: """
                      SELECT preview_step, preview FROM checkpoints WHERE job_id = ? AND preview IS NOT NULL
                      """, arguments: [id]) else { return nil }
            return JobPreview(step: row["preview_step"], png: row["preview"])
        }
    }

    public func inputImage(_ sha256: String) async throws -> Data? {
        try await queue.read { db in
            // instr() first: only requests holding the hash at all are parsed; newest jobs first
            // (the ones looked at most), stopping at the first that names it.
            try Data.fetchOne(db, sql: """
                SELECT b.data FROM blobs b WHERE b.sha256 = ? AND (
                    SELECT j.job_id FROM jobs j WHERE instr(j.request, ?) > 0 AND json_valid(j.request) AND (
                        json_extract(j.request, '$.image.sha256') = ? OR json_extract(j.request, '$.mask_image.sha256') = ?
                        OR EXISTS (SELECT 1 FROM json_each(j.request, '$.controlnet.image') e
                                   WHERE e.type = 'object' AND json_extract(e.value, '$.sha256') = ?))
                    ORDER BY j.job_id DESC LIMIT 1) IS NOT NULL
                """, arguments: [sha256, sha256, sha256, sha256, sha256])
        }
    }

    static let firstOutput = "(SELECT MIN(o.output_id) FROM outputs o WHERE o.job_id = v_jobs.job_id) AS first_output"

    static func jobSummary(_ row: Row) -> JobSummary {
        JobSummary(jobID: row["job_id"], sweepID: row["sweep_id"], state: row["state"], step: row["step"], steps: row["steps"],
                   prompt: row["prompt"], seed: text(row["seed"] as DatabaseValue), model: row["model"], error: row["error"],
                   updatedAt: row["updated_at"], firstOutput: row["first_output"])
    }

    public func jobs(_ filter: QueueFilter, page: PageRequest) async throws -> QueuePage<JobSummary> {
        let (condition, arguments) = SQLiteQueueReader.condition(filter, state: "state")
        return try await queue.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM v_jobs WHERE \(condition)", arguments: arguments) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT job_id, sweep_id, state, step, steps, prompt, seed, model, error, updated_at, \(SQLiteQueueReader.firstOutput)
                FROM v_jobs WHERE \(condition) ORDER BY job_id DESC LIMIT ? OFFSET ?
                """, arguments: arguments + [page.limit, page.offset])
            return QueuePage(items: rows.map(SQLiteQueueReader.jobSummary), total: total, page: page)
        }
    }

    public func outputs(_ filter: QueueFilter, page: PageRequest) async throws -> QueuePage<OutputCard> {
        let (condition, arguments) = SQLiteQueueReader.condition(filter, state: "(SELECT state FROM jobs j WHERE j.job_id = v_outputs.job_id)")
        return try await queue.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM v_outputs WHERE \(condition)", arguments: arguments) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(SQLiteQueueReader.cardColumns) FROM v_outputs WHERE \(condition) ORDER BY output_id DESC LIMIT ? OFFSET ?
                """, arguments: arguments + [page.limit, page.offset])
            return QueuePage(items: rows.map(SQLiteQueueReader.card), total: total, page: page)
        }
    }

    /// The WHERE clause of a filter over `v_jobs` or `v_outputs` (both have prompt, seed, model
    /// and sweep_id), with its arguments; `state` is the expression for the job's state.
    static func condition(_ filter: QueueFilter, state: String) -> (String, StatementArguments) {
        var parts = ["1"], arguments: [DatabaseValueConvertible?] = []
        if let s = filter.state { parts.append("\(state) = ?"); arguments.append(s) }
        if let p = filter.prompt { parts.append("instr(lower(prompt), lower(?)) > 0"); arguments.append(p) }
        if let s = filter.seed { parts.append("seed = ?"); arguments.append(s) }
        if let m = filter.model { parts.append("instr(model, ?) > 0"); arguments.append(m) }
        if let s = filter.sweep { parts.append("sweep_id = ?"); arguments.append(s) }
        return (parts.joined(separator: " AND "), StatementArguments(arguments))
    }
}
