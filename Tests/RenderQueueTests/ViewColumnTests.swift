import Foundation
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// `v_outputs` shows every render parameter, alike on both databases; the views come from
/// views.sql, on new queues and on queues made by an earlier kiln.
final class ViewColumnTests: QueueTestCase {
    /// Parameters without a `v_outputs` column, with the reason (none today).
    static let withoutColumn: [String: String] = [:]

    /// A value other than the default for every parameter, by name: a new parameter adds its line.
    static let nonDefault: [String: ParameterValue] = [
        "prompt": .text("a fox in snow"), "prompt-2": .text("watercolour"), "negative-prompt": .text("blurry"),
        "negative-prompt-2": .text("grainy"), "width": .number(640), "height": .number(448), "steps": .number(12),
        "guidance": .number(6.5), "guidance-rescale": .number(0.25), "seed": .number(12345), "scheduler": .text("dpmpp-2m-karras"),
        "clip-skip": .number(2), "original-size": .text("800x600"), "crop-top-left": .text("8,16"), "target-size": .text("640x448"),
        "negative-original-size": .text("512x512"), "negative-crop-top-left": .text("4,4"), "negative-target-size": .text("320x320"),
        "images": .number(3), "image": .text("input.png"), "strength": .number(0.55), "mask": .text("mask.png"),
        "padding-mask-crop": .number(24), "latents": .text("start.safetensors"), "denoising-start": .number(0.2),
        "denoising-end": .number(0.9), "aesthetic-score": .number(7), "negative-aesthetic-score": .number(2),
        "refiner": .text("refiner-model"), "refiner-config": .text("refiner-config"), "high-noise-frac": .number(0.75),
        "refine-after": .flag(true), "refiner-strength": .number(0.45), "lora": .text("style.safetensors:0.7"),
        "embedding": .text("lantern.safetensors:lantern"), "vae-tiling": .flag(true), "precision": .text("bf16"),
        "scheduler-config": .text("timestep_spacing=trailing;use_karras_sigmas=true"), "timesteps": .text("999,759,499,259"),
        "sigmas": .text("14.6,4.2,1.1,0"),
        "watermark": .flag(false), "eta": .number(0.3), "unet": .text("lcm-unet"),
        "vae": .text("sdxl-vae-fp16-fix"),
        "controlnet": .text("/models/controlnet-canny-sdxl-1.0"), "control-image": .text("edges.png"), "control-scale": .number(0.6),
        "control-start": .number(0.1), "control-end": .number(0.9), "guess-mode": .flag(true),
        "prompt-weighting": .text("compel"),
        "variant": .text("fp16"),
    ]

    /// A request with `nonDefault` applied, parameter by parameter.
    static func nonDefaultRequest() throws -> RenderRequest {
        var request = RenderRequest(prompt: "")
        for parameter in RenderParameters.all {
            let value = try XCTUnwrap(nonDefault[parameter.name], "give \(parameter.name) a non-default value in ViewColumnTests.nonDefault")
            try parameter.apply(value, to: &request)
        }
        return request
    }

    /// Provenance as a render records it for `request` (the resolved values taken from it).
    static func provenance(_ request: RenderRequest) -> String {
        var record = Provenance(kilnVersion: Provenance.currentVersion, request: request, width: request.width ?? 1024,
                                height: request.height ?? 1024, scheduler: request.scheduler?.rawValue ?? "euler",
                                schedulerClass: "EulerDiscreteScheduler", seed: request.seed, imageIndex: 0, model: "base-model",
                                modelHash: "basehash", watermarkBits: nil, seconds: 2)
        let mode = request.image == nil ? "text-to-image" : (request.mask == nil ? "image-to-image" : "inpainting")
        record.mode = mode + (request.refiner == nil ? "" : " + refiner")
        record.strength = request.image == nil ? nil : request.strength ?? 0.3
        record.guidance = request.effectiveGuidance
        record.refiner = request.refiner
        record.refinerHash = request.refiner == nil ? nil : "refinerhash"
        record.schedulerConfig = #"{"beta_end":0.012}"#
        return record.json()
    }

    /// Enqueues, claims and finishes one job per request, with its provenance; returns the queue.
    func finished(_ backend: QueueBackend, _ requests: [RenderRequest]) async throws -> String {
        let location = try TestQueues.location(backend, "views", in: dir)
        let store = try await Queues.open(location)
        for request in requests {
            // The request as a job would refuse some combinations; the output's provenance holds it.
            try await store.enqueue(model: "base-model", request: RenderRequest(prompt: "job"))
            let claimed = try await store.claim(worker: "w", leaseSeconds: 60)
            let job = try XCTUnwrap(claimed)
            let done = try await store.finish(jobID: job.jobID, worker: "w", attempt: job.attempt, images: [
                FinishedImage(index: 0, png: Data([1]), outputPath: nil, provenance: Self.provenance(request), watermarkWritten: nil, watermarkRead: nil),
            ], renderSeconds: 2)
            XCTAssertTrue(done)
        }
        return location
    }

    /// Every `RenderParameters` entry has its `v_outputs` column, holding the same value on
    /// SQLite and PostgreSQL for a job finished with a non-default value of every parameter, a
    /// value other than a default job's.
    func testEveryRenderParameterHasItsColumnAlikeOnBothDatabases() async throws {
        let requests = [RenderRequest(prompt: "default"), try Self.nonDefaultRequest()]
        var queues: [String] = []
        for backend in QueueBackend.allCases { queues.append(try await finished(backend, requests)) }
        var tables: [[[String?]]] = []
        for location in queues { tables.append(try await report(location, "SELECT * FROM v_outputs ORDER BY job_id")) }
        var columns: [[String]] = []
        for location in queues { columns.append(try await Queues.openReader(location).query("SELECT * FROM v_outputs WHERE false", timeout: 60).columns) }
        XCTAssertEqual(columns[1], columns[0], "the same columns on both databases")
        for name in Self.withoutColumn.keys {
            let parameter = try XCTUnwrap(RenderParameters.named(name), "\(name) in withoutColumn is no parameter")
            XCTAssertFalse(columns[0].contains(parameter.column), "\(name) has a column: remove it from withoutColumn")
        }
        for parameter in RenderParameters.all where Self.withoutColumn[parameter.name] == nil {
            let at = columns.map { $0.firstIndex(of: parameter.column) }
            for (backend, index) in zip(QueueBackend.allCases, at) where index == nil {
                XCTFail("v_outputs on \(backend) has no column \(parameter.column) for --\(parameter.name): add it to Migrations/\(backend)/views.sql")
            }
            guard let sqlite = at[0], let postgresql = at[1] else { continue }
            let values = [tables[0].map { $0[sqlite] }, tables[1].map { $0[postgresql] }]
            XCTAssertNotNil(values[0][1], "\(parameter.column) of the non-default job")
            XCTAssertNotEqual(values[0][1], values[0][0], "\(parameter.column) shows the parameter's value, not a default job's")
            XCTAssertEqual(values[1], values[0], "\(parameter.column): PostgreSQL as SQLite")
        }
    }
}

/// The views follow views.sql: a queue made by the previous kiln (schema version 5) upgrades to
/// the same views as a new one, views that differ are made again, and current ones are left alone.
final class ViewUpgradeTests: QueueTestCase {
    static let migrations = Fixtures.root + "/../../Migrations/"

    /// The SQL text of a job, its checkpoint and one output, for either dialect.
    func rows() throws -> String {
        let request = try ViewColumnTests.nonDefaultRequest()
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        return """
            INSERT INTO jobs (model, request, steps, state) VALUES ('base-model', \(quoted(json)), 12, 'done');
            INSERT INTO checkpoints (job_id, stage, step, state) VALUES (1, 'refiner', 3, \(dialect("x'00'", "'\\x00'::bytea")));
            INSERT INTO outputs (job_id, image_index, png_sha256, provenance, render_seconds, worker, attempt)
            VALUES (1, 0, 'x', \(quoted(ViewColumnTests.provenance(request))), 1.5, 'w', 1);
            """
    }

    /// A queue as the previous kiln left it: migrations 0001-0005 from their files, version 5.
    func version5Queue() throws -> String {
        let location = try queue("v5")
        let folder = Self.migrations + dialect("sqlite", "postgresql")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0 < "0006" && $0.hasSuffix(".sql") }.sorted()
        XCTAssertEqual(files.count, 5)
        let schema = try files.map { try String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }.joined(separator: "\n")
        let version = dialect("PRAGMA user_version = 5;", "CREATE TABLE kiln_schema (version integer NOT NULL); INSERT INTO kiln_schema VALUES (5);")
        try TestQueues.execute(location, version + "\n" + schema)
        return location
    }

    /// The views' definitions as the database keeps them.
    func definitions(_ location: String) throws -> [String] {
        try TestQueues.execute(location, dialect("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name",
                                     "SELECT viewname, definition FROM pg_views WHERE schemaname = current_schema() ORDER BY viewname"))
    }

    /// Each view's columns and rows, without the times rows were written.
    func contents(_ location: String) async throws -> [String: ReportTable] {
        var out: [String: ReportTable] = [:]
        for view in ["v_jobs", "v_outputs"] {
            let columns = try await Queues.openReader(location).query("SELECT * FROM \(view) WHERE false", timeout: 60).columns
            let kept = columns.filter { !$0.hasSuffix("_at") }
            out[view] = try await Queues.openReader(location).query("SELECT \(kept.joined(separator: ", ")) FROM \(view) ORDER BY job_id", timeout: 60)
            XCTAssertEqual(kept.count, columns.count - (view == "v_jobs" ? 2 : 1), view)
        }
        return out
    }

    func testVersion5QueueUpgradesToTheViewsOfANewQueue() async throws {
        try await onEachBackend { _ in
            let old = try version5Queue()
            try TestQueues.execute(old, try rows())
            let before = try await contents(old)
            let viewsBefore = try definitions(old)
            _ = try await Queues.open(old)
            let fresh = try queue("fresh")
            _ = try await Queues.open(fresh)
            try TestQueues.execute(fresh, try rows())
            let version = dialect("PRAGMA user_version", "SELECT version FROM kiln_schema")
            XCTAssertEqual(try TestQueues.execute(old, version), try TestQueues.execute(fresh, version))
            let after = try await contents(old)
            let freshContents = try await contents(fresh)
            XCTAssertEqual(after, freshContents, "an upgraded queue shows what a new one shows")
            // views.sql keeps every column of version 5, with its values, in its order; columns
            // added since (a new parameter, model_repo, ...) are new names, none renamed or dropped.
            for view in ["v_jobs", "v_outputs"] {
                let (was, now) = (try XCTUnwrap(before[view]), try XCTUnwrap(after[view]))
                let at = was.columns.compactMap { now.columns.firstIndex(of: $0) }
                XCTAssertEqual(at.count, was.columns.count, "\(view) keeps every column of version 5")
                XCTAssertEqual(at, at.sorted(), "\(view) keeps version 5's column order")
                XCTAssertEqual(now.rows.map { row in at.map { row[$0] } }, was.rows, "\(view) shows version 5's values")
            }
            XCTAssertEqual(try definitions(old), try definitions(fresh))
            XCTAssertEqual(try definitions(old) == viewsBefore, after == before, "the views were made again exactly when views.sql changed them")
            XCTAssertEqual(after["v_outputs"]?.rows.first?.contains("bf16"), true)
        }
    }

    func testViewsThatDifferAreMadeAgainAndCurrentOnesLeftAlone() async throws {
        try await onEachBackend { _ in
            let location = try queue("q")
            // Held open: on SQLite, GRDB writes to the schema when it opens a pool without a WAL file.
            let first = try await Queues.open(location)
            let views = try definitions(location)
            let identity = dialect("PRAGMA schema_version", "SELECT 'v_jobs'::regclass::oid, 'v_outputs'::regclass::oid")
            let made = try TestQueues.execute(location, identity)
            _ = try await Queues.open(location)
            XCTAssertEqual(try TestQueues.execute(location, identity), made, "opening a current queue changes no view")
            withExtendedLifetime(first) {}
            try TestQueues.execute(location, "DROP VIEW v_outputs; CREATE VIEW v_outputs AS SELECT 1 AS x")
            XCTAssertNotEqual(try definitions(location), views)
            _ = try await Queues.open(location)
            XCTAssertEqual(try definitions(location), views, "a writer makes the views of views.sql again")
            try TestQueues.execute(location, "DROP VIEW v_jobs")
            _ = try await Queues.open(location)
            XCTAssertEqual(try definitions(location), views, "and a missing one")
        }
    }
}
