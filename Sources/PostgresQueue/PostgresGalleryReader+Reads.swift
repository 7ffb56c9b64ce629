import Foundation
import PostgresNIO
import RenderQueue

/// What `kiln serve` reads, each call in one READ ONLY transaction on a pooled connection
/// (`read`). Values are always bound (`$n`); the only names put into statements are `v_outputs`
/// columns from the parameter table (`OutputColumns`). Rows come back in SQLiteQueueReader's
/// shapes, values as `kiln report` prints them (`PostgresText`).
extension PostgresGalleryReader {
    public func overview() async throws -> QueueOverview {
        try await read { s in
            var counts: [String: Int] = [:]
            for row in try await s.rows("SELECT state, count(*) FROM jobs GROUP BY state") {
                let (state, n) = try row.decode((String, Int).self)
                counts[state] = n
            }
            let running = try await s.rows("""
                SELECT job_id, sweep_id, step, steps, lease_owner,
                       (SELECT AVG(e::double precision) FROM jsonb_array_elements_text(step_seconds::jsonb) e)
                FROM jobs WHERE state = 'running' ORDER BY priority DESC, job_id LIMIT \(PageRequest.maxLimit)
                """).map { row in
                let (id, sweep, step, steps, worker, pace) = try row.decode((Int64, Int64?, Int, Int, String?, Double?).self)
                return RunningJob(jobID: id, sweepID: sweep, step: step, steps: steps, worker: worker, secondsPerStep: pace)
            }
            let left = try await s.count("SELECT COALESCE(SUM(GREATEST(steps - step, 0)), 0)::bigint FROM jobs WHERE state IN ('queued', 'running')")
            let pace = try await s.value("SELECT AVG(e::double precision) FROM jobs j, jsonb_array_elements_text(j.step_seconds::jsonb) e",
                                   as: Double.self)
            let paused = try await s.value("SELECT value FROM queue_state WHERE key = 'paused'", as: String.self) == "1"
            return QueueOverview(counts: counts, running: running, stepsLeft: left, secondsPerStep: pace, paused: paused)
        }
    }

    public func sweeps(_ page: PageRequest) async throws -> QueuePage<SweepSummary> {
        try await read { s in
            let total = try await s.count("SELECT count(*) FROM sweeps")
            let rows = try await s.rows("\(unescaped: PostgresGalleryReader.sweepSelect) ORDER BY s.sweep_id DESC LIMIT \(page.limit) OFFSET \(page.offset)")
            var items: [SweepSummary] = []
            for row in rows { items.append(try await PostgresGalleryReader.summary(row, s)) }
            return QueuePage(items: items, total: total, page: page)
        }
    }

    public func sweep(_ id: Int64) async throws -> SweepSummary? {
        try await read { s in
            guard let row = try await s.first("\(unescaped: PostgresGalleryReader.sweepSelect) WHERE s.sweep_id = \(id)") else { return nil }
            return try await PostgresGalleryReader.summary(row, s)
        }
    }

    static let sweepSelect = """
        SELECT s.sweep_id, s.name, s.created_at, s.paused,
               (SELECT count(*) FROM outputs o JOIN jobs j USING (job_id) WHERE j.sweep_id = s.sweep_id)
        FROM sweeps s
        """

    static func summary(_ row: PostgresRow, _ s: Statements) async throws -> SweepSummary {
        let (id, name, created, paused, outputs) = try row.decode((Int64, String?, String, Int, Int).self)
        var counts: [String: Int] = [:]
        for c in try await s.rows("SELECT state, count(*) FROM jobs WHERE sweep_id = \(id) GROUP BY state") {
            let (state, n) = try c.decode((String, Int).self)
            counts[state] = n
        }
        return SweepSummary(sweepID: id, name: name, createdAt: created, paused: paused != 0, counts: counts, outputs: outputs)
    }

    public func sweepAxes(_ id: Int64) async throws -> [SweepAxis] {
        try await read { s in try await s.value("SELECT spec FROM sweeps WHERE sweep_id = \(id)", as: String.self).map(SweepAxis.axes(specJSON:)) ?? [] }
    }

    public func sweepPage(_ id: Int64, orderedBy parameters: [String], page: PageRequest) async throws -> QueuePage<OutputCard> {
        let order = parameters.compactMap(OutputColumns.column(for:)).map { "\($0) NULLS LAST" } + ["job_id", "image_index"]
        return try await read { s in
            let total = try await s.count("SELECT count(*) FROM outputs o JOIN jobs j USING (job_id) WHERE j.sweep_id = \(id)")
            let rows = try await s.rows("""
                SELECT \(unescaped: PostgresGalleryReader.cardColumns) FROM v_outputs WHERE sweep_id = \(id)
                ORDER BY \(unescaped: order.joined(separator: ", ")) LIMIT \(page.limit) OFFSET \(page.offset)
                """)
            return QueuePage(items: try rows.map(PostgresGalleryReader.card), total: total, page: page)
        }
    }

    static let cardColumns = "output_id, job_id, sweep_id, image_index, seed, prompt, model, provenance"

    /// A row of `cardColumns`.
    static func card(_ row: PostgresRow) throws -> OutputCard {
        let cells = Array(row)
        guard cells.count >= 8 else { throw PostgresQueueFailure("an output row has too few columns") }
        return OutputCard(outputID: try cells[0].decode(Int64.self), jobID: try cells[1].decode(Int64.self),
                          sweepID: try cells[2].decode(Int64?.self), imageIndex: try cells[3].decode(Int.self),
                          seed: PostgresText.render(cells[4]), prompt: try cells[5].decode(String?.self),
                          model: try cells[6].decode(String?.self), provenance: try cells[7].decode(String.self))
    }

    public func output(_ id: Int64) async throws -> OutputDetail? {
        try await read { s in
            guard let row = try await s.first("SELECT \(unescaped: PostgresGalleryReader.cardColumns), * FROM v_outputs WHERE output_id = \(id)") else {
                return nil
            }
            let card = try PostgresGalleryReader.card(row)
            let config = try await s.value("SELECT config FROM jobs WHERE job_id = \(card.jobID)", as: String.self)
            let shown = Array(row).dropFirst(8).filter { !["provenance", "step_seconds"].contains($0.columnName) }
            return OutputDetail(card: card, columns: shown.map(\.columnName), values: shown.map(PostgresText.render), config: config)
        }
    }

    public func outputImage(_ id: Int64) async throws -> StoredOutput? {
        try await read { s in
            try await s.first("SELECT job_id, image_index, png_sha256, png, output_path FROM outputs WHERE output_id = \(id)")
                .map(PostgresQueueReader.output)
        }
    }

    public func jobPreview(_ id: Int64) async throws -> JobPreview? {
        try await read { s in
            // A queue last opened by a writer older than schema 7 has no preview columns.
            guard try await s.first("""
                      SELECT 1 FROM information_schema.columns
                      WHERE table_schema = current_schema() AND table_name = 'checkpoints' AND column_name = 'preview'
                      """) != nil,
                  let row = try await s.first("SELECT preview_step, preview FROM checkpoints WHERE job_id = \(id) AND preview IS NOT NULL")
            else { return nil }
            let (step, png) = try row.decode((Int, Data).self)
            return JobPreview(step: step, png: png)
        }
    }

    public func inputImage(_ sha256: String) async throws -> Data? {
        try await read { s in
            // strpos() first: only requests holding the hash at all are parsed; newest jobs first
            // (the ones looked at most), stopping at the first that names it. @> matches the
            // reference inside the request's JSON (an element of the control images' array).
            try await s.value("""
                SELECT b.data FROM blobs b WHERE b.sha256 = \(sha256) AND (
                    SELECT j.job_id FROM jobs j WHERE strpos(j.request, \(sha256)) > 0 AND (
                        j.request::jsonb @> jsonb_build_object('image', jsonb_build_object('sha256', \(sha256)::text))
                        OR j.request::jsonb @> jsonb_build_object('mask_image', jsonb_build_object('sha256', \(sha256)::text))
                        OR j.request::jsonb @> jsonb_build_object('controlnet', jsonb_build_object('image',
                               jsonb_build_array(jsonb_build_object('sha256', \(sha256)::text)))))
                    ORDER BY j.job_id DESC LIMIT 1) IS NOT NULL
                """, as: Data.self)
        }
    }

    static let jobColumns = """
        job_id, sweep_id, state, step, steps, prompt, seed, model, error, updated_at,
        (SELECT min(o.output_id) FROM outputs o WHERE o.job_id = v_jobs.job_id)
        """

    /// A row of `jobColumns`.
    static func jobSummary(_ row: PostgresRow) throws -> JobSummary {
        let cells = Array(row)
        guard cells.count >= 11 else { throw PostgresQueueFailure("a job row has too few columns") }
        return JobSummary(jobID: try cells[0].decode(Int64.self), sweepID: try cells[1].decode(Int64?.self), state: try cells[2].decode(String.self),
                          step: try cells[3].decode(Int.self), steps: try cells[4].decode(Int.self), prompt: try cells[5].decode(String?.self),
                          seed: PostgresText.render(cells[6]), model: try cells[7].decode(String.self), error: try cells[8].decode(String?.self),
                          updatedAt: try cells[9].decode(String.self), firstOutput: try cells[10].decode(Int64?.self))
    }

    public func job(_ id: Int64) async throws -> JobDetail? {
        try await read { s in
            guard let row = try await s.first("SELECT \(unescaped: PostgresGalleryReader.jobColumns), * FROM v_jobs WHERE job_id = \(id)"),
                  let stored = try await s.first("SELECT request, config FROM jobs WHERE job_id = \(id)") else { return nil }
            let (request, config) = try stored.decode((String, String?).self)
            let outputs = try await s.rows("SELECT output_id FROM outputs WHERE job_id = \(id) ORDER BY image_index").map { try $0.decode(Int64.self) }
            let shown = Array(row).dropFirst(11)
            return JobDetail(summary: try PostgresGalleryReader.jobSummary(row), columns: shown.map(\.columnName),
                             values: shown.map(PostgresText.render), request: request, config: config, outputs: outputs)
        }
    }

    public func jobs(_ filter: QueueFilter, page: PageRequest) async throws -> QueuePage<JobSummary> {
        try await read { s in
            let total = try await s.count(PostgresGalleryReader.filtered("SELECT count(*) FROM v_jobs WHERE", filter, state: "state", ""))
            let rows = try await s.rows(PostgresGalleryReader.filtered("SELECT \(PostgresGalleryReader.jobColumns) FROM v_jobs WHERE", filter,
                                                               state: "state", " ORDER BY job_id DESC", page: page))
            return QueuePage(items: try rows.map(PostgresGalleryReader.jobSummary), total: total, page: page)
        }
    }

    public func outputs(_ filter: QueueFilter, page: PageRequest) async throws -> QueuePage<OutputCard> {
        let state = "(SELECT state FROM jobs j WHERE j.job_id = v_outputs.job_id)"
        return try await read { s in
            let total = try await s.count(PostgresGalleryReader.filtered("SELECT count(*) FROM v_outputs WHERE", filter, state: state, ""))
            let rows = try await s.rows(PostgresGalleryReader.filtered("SELECT \(PostgresGalleryReader.cardColumns) FROM v_outputs WHERE", filter,
                                                               state: state, " ORDER BY output_id DESC", page: page))
            return QueuePage(items: try rows.map(PostgresGalleryReader.card), total: total, page: page)
        }
    }

    /// `before` + the filter's conditions over `v_jobs` or `v_outputs` (both have prompt, seed,
    /// model and sweep_id) + `after`, then `LIMIT`/`OFFSET` of `page` when given, every value
    /// bound. `state` is the expression for the job's state.
    static func filtered(_ before: String, _ filter: QueueFilter, state: String, _ after: String, page: PageRequest? = nil) -> PostgresQuery {
        var binds = PostgresBindings()
        var sql = before + " TRUE"
        if let v = filter.state { binds.append(v); sql += " AND \(state) = $\(binds.count)" }
        if let v = filter.prompt { binds.append(v); sql += " AND strpos(lower(prompt), lower($\(binds.count))) > 0" }
        if let v = filter.seed { binds.append(v); sql += " AND seed = $\(binds.count)" }
        if let v = filter.model { binds.append(v); sql += " AND strpos(model, $\(binds.count)) > 0" }
        if let v = filter.sweep { binds.append(v); sql += " AND sweep_id = $\(binds.count)" }
        sql += after
        if let page {
            binds.append(page.limit)
            sql += " LIMIT $\(binds.count)"
            binds.append(page.offset)
            sql += " OFFSET $\(binds.count)"
        }
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}
