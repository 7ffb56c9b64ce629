import Foundation
import ModelFiles
import GRDB
import KilnTestSupport
import Pipelines
@testable import PostgresQueue
import RenderQueue
@testable import SQLiteQueue
import XCTest

/// What only the SQLite queue has: its file format, PRAGMA versions and old databases.
final class SQLiteQueueTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testMigrationsApplyOnceAndEqualTheSQLFiles() throws {
        let db = try QueueDatabase(path: dir + "/q.db")
        XCTAssertEqual(db.version, QueueDatabase.knownVersion)
        XCTAssertEqual(try QueueDatabase(path: dir + "/q.db").version, QueueDatabase.knownVersion, "reopening changes nothing")
        let files = try embeddedSQLEqualsItsFile("sqlite", SQLiteQueue.EmbeddedMigrations.all, SQLiteQueue.EmbeddedMigrations.views)
        XCTAssertEqual(files.count, QueueDatabase.knownVersion)
        let postgres = try embeddedSQLEqualsItsFile("postgresql", PostgresQueue.EmbeddedMigrations.all, PostgresQueue.EmbeddedMigrations.views)
        XCTAssertEqual(postgres.map { $0.prefix(4) }, files.map { $0.prefix(4) }, "both dialects are numbered alike")
        let journal = try db.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(journal, "wal")
        let strict = try db.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM pragma_table_list WHERE strict = 1") }
        XCTAssertGreaterThanOrEqual(strict ?? 0, 5)
    }

    /// Checks that every SQL text `Migrations/embed.sh` compiled in equals its file in
    /// Migrations/`folder`, by content: the numbered migrations, in order, and views.sql.
    /// Returns the numbered files' names.
    func embeddedSQLEqualsItsFile(_ folder: String, _ numbered: [(name: String, sql: String)], _ views: String) throws -> [String] {
        let path = Fixtures.root + "/../../Migrations/" + folder
        let hint = "run Migrations/embed.sh after changing Migrations/\(folder)"
        let files = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".sql") && $0 != "views.sql" }.sorted()
        XCTAssertEqual(numbered.map(\.name), files, hint)
        // A file's embedded copy is its text without the final newline (a multi-line string literal).
        for migration in numbered {
            let text = try String(contentsOfFile: path + "/" + migration.name, encoding: .utf8)
            XCTAssertEqual(migration.sql + "\n", text, "\(folder)/\(migration.name) differs from its embedded copy; \(hint)")
        }
        XCTAssertEqual(views + "\n", try String(contentsOfFile: path + "/views.sql", encoding: .utf8), "\(folder)/views.sql differs; \(hint)")
        return files
    }

    /// A database written by version 1 (text-to-image only, camel-case request keys) keeps its
    /// rows readable: migration 0002 rewrites them to diffusers' names for the views and claims.
    func testVersionOneRowsStayReadableAfterMigration() async throws {
        let path = dir + "/old.db"
        let schema = try String(contentsOfFile: Fixtures.root + "/../../Migrations/sqlite/0001_initial.sql", encoding: .utf8)
        let v1 = #"{"cropTopLeft":{"left":0,"top":0},"guidance":7,"guidanceRescale":0.25,"images":1,"negativeCropTopLeft":{"left":0,"top":0},"negativePrompt":"rain","originalSize":{"height":480,"width":640},"prompt":"a \"steps\": fox","prompt2":"second","seed":18446744073709551615,"steps":20,"watermark":false}"#
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: schema)
            try db.execute(sql: "PRAGMA user_version = 1")
            try db.execute(sql: "INSERT INTO jobs (model, request, steps, state) VALUES ('m', ?, 20, 'queued')", arguments: [v1])
            try db.execute(sql: "INSERT INTO jobs (model, request, steps, state) VALUES ('m', ?, 20, 'done')", arguments: [v1])
            let provenance = #"{"height":64,"imageIndex":0,"kilnVersion":"0.1.0","model":"m","modelHash":"h","request":"# + v1
                + #","scheduler":"euler","schedulerClass":"EulerDiscreteScheduler","seed":5,"width":64}"#
            try db.execute(sql: """
                INSERT INTO outputs (job_id, image_index, png_sha256, provenance, render_seconds, worker, attempt)
                VALUES (2, 0, 'x', ?, 1.5, 'w', 1)
                """, arguments: [provenance])
        }
        try queue.close()
        let store = SQLiteJobQueue(try QueueDatabase(path: path))
        XCTAssertEqual(store.database.version, QueueDatabase.knownVersion)
        let row = try await SQLiteQueueReader(path: path).query("""
            SELECT prompt, prompt_2, negative_prompt, steps, guidance, guidance_rescale, original_size, crop_top_left, mode, watermark FROM v_outputs
            """, timeout: 60).rows
        XCTAssertEqual(row, [["a \"steps\": fox", "second", "rain", "20", "7", "0.25", "[480,640]", "[0,0]", "text-to-image", "0"]])
        let claim = try await store.claim(worker: "w", leaseSeconds: 10)
        let claimed = try XCTUnwrap(claim)
        XCTAssertEqual(claimed.request.prompt, "a \"steps\": fox", "a key inside a string is left alone")
        XCTAssertEqual(claimed.request.steps, 20)
        XCTAssertEqual(claimed.request.guidance, 7)
        XCTAssertEqual(claimed.request.seed, UInt64.max, "64-bit seeds survive the rewrite")
        XCTAssertEqual(claimed.request.originalSize, PixelSize(width: 640, height: 480))
    }

    func testNewerDatabaseIsRefused() throws {
        let queue = try DatabaseQueue(path: dir + "/new.db")
        try queue.write { try $0.execute(sql: "PRAGMA user_version = 99") }
        XCTAssertThrowsError(try QueueDatabase(path: dir + "/new.db")) { error in
            XCTAssertTrue("\(error)".contains("newer than this kiln"), "\(error)")
        }
    }

    func testReportRefusesSQLiteWrites() async throws {
        let path = dir + "/q.db"
        let store = try SQLiteJobQueue(path: path)
        try await store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        for sql in ["PRAGMA user_version = 7", "INSERT INTO blobs VALUES ('a', x'00')", "CREATE TABLE t (x)", "VACUUM"] {
            await XCTAssertThrowsErrorAsync(try await SQLiteQueueReader(path: path).query(sql, timeout: 60), sql)
        }
    }

    func testSHA256KnownValues() {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data(repeating: 0x61, count: 1000)).prefix(16), "41edece42d63e8d9")
    }
}
