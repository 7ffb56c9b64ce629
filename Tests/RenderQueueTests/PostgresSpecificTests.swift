import Foundation
import KilnTestSupport
import Pipelines
@testable import PostgresQueue
import RenderQueue
import SQLiteQueue
import XCTest

/// What only the PostgreSQL queue has: URLs and passwords, .pgpass, connection errors, the
/// schema version table, NOTIFY, SKIP LOCKED claims, the read-only report with its timeout, and
/// values that print as SQLite's. Server tests use `Tests/postgres.sh`'s server, one fresh
/// database each.
final class PostgresSpecificTests: XCTestCase {
    var databases: [String] = []
    /// Examples/reports, from this file's place in the repository.
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples/reports").path

    override func tearDown() async throws {
        for url in databases { await PostgresTestServer.drop(url) }
        try await super.tearDown()
    }

    func fresh() throws -> String {
        let url = try PostgresTestServer.freshDatabaseURL()
        databases.append(url)
        return url
    }

    /// The one-line description of what `body` throws.
    func failure(_ body: () async throws -> Any) async -> String {
        do { _ = try await body(); return "no error" } catch { return "\(error)" }
    }

    // MARK: Bad databases, one line each, no password

    func testBadURLsGiveOneLineWithoutThePassword() async throws {
        let admin = try PostgresTestServer.adminURL()
        let server = try PostgresLocation(url: admin)
        let secret = server.password ?? "no password in KILN_TEST_POSTGRES_URL"
        let closed = try PostgresTestServer.url(admin, database: "q").replacingOccurrences(of: ":\(server.port)/", with: ":\(try PostgresTestServer.closedPort())/")
        let cases: [(url: String, expected: String)] = [
            (closed, "connection refused; check host and port"),
            (try PostgresTestServer.url(admin, database: "postgres", password: "not-the-password"),
             "password authentication failed for user \(server.user); check the password in the URL, PGPASSWORD or ~/.pgpass"),
            (try PostgresTestServer.url(admin, database: "kiln_no_such_db"), "database kiln_no_such_db does not exist; create it with createdb kiln_no_such_db"),
        ]
        for (url, expected) in cases {
            let message = await failure { try await PostgresJobQueue(url: url) }
            XCTAssertTrue(message.contains(expected), message)
            XCTAssertTrue(message.contains(try PostgresLocation(url: url).displayName), message)
            XCTAssertFalse(message.contains(secret) || message.contains("not-the-password") || message.contains("\n"), message)
        }
        // A server that never answers: the connect timeout ends the wait.
        let hole = try PostgresTestServer.blackHole()
        defer { close(hole.fd) }
        var start = Date()
        let hung = await failure { try await PostgresJobQueue(url: "postgresql://kiln:\(secret)@127.0.0.1:\(hole.port)/q?connect_timeout=1") }
        XCTAssertEqual(hung, "cannot connect to postgresql://kiln@127.0.0.1:\(hole.port)/q: timed out after 1 s; check host and port")
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        // A non-routable address (timed out, or refused where a proxy answers for it).
        start = Date()
        let unroutable = await failure { try await PostgresJobQueue(url: "postgresql://kiln:\(secret)@10.255.255.1:5432/q?connect_timeout=2") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertTrue(unroutable.hasPrefix("cannot connect to postgresql://kiln@10.255.255.1:5432/q: "), unroutable)
        XCTAssertFalse(unroutable.contains(secret) || unroutable.contains("\n"), unroutable)
    }

    func testNewerSchemaAndForeignDatabasesAreRefused() async throws {
        let url = try fresh()
        let noQueue = await failure { try await PostgresQueueReader(url: url) }
        XCTAssertTrue(noQueue.contains("no Kiln queue in this database"))
        let tables = try await PostgresTestServer.execute(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        XCTAssertEqual(tables, [["0"]], "a reader creates nothing")
        _ = try await PostgresJobQueue(url: url)
        let version = try await PostgresTestServer.execute(url, "SELECT version FROM kiln_schema")
        XCTAssertEqual(version, [["\(PostgresSchema.knownVersion)"]])
        let display = try PostgresLocation(url: url).displayName
        var dumped = ""
        let reopened = try await PostgresJobQueue(url: url)
        dump(reopened, to: &dumped)
        if let secret = try PostgresLocation(url: url).password { XCTAssertFalse(dumped.contains(secret), dumped) }
        try await PostgresTestServer.execute(url, "UPDATE kiln_schema SET version = 99")
        let newer = QueueError.newerDatabase(path: display, version: 99, known: PostgresSchema.knownVersion).description
        let writerRefusal = await failure { try await PostgresJobQueue(url: url) }
        XCTAssertEqual(writerRefusal, newer)
        let readerRefusal = await failure { try await PostgresQueueReader(url: url) }
        XCTAssertEqual(readerRefusal, newer)
        let other = try fresh()
        try await PostgresTestServer.execute(other, "CREATE TABLE invoices (id int)")
        let foreign = await failure { try await PostgresJobQueue(url: other) }
        XCTAssertTrue(foreign.contains("a database with tables but no kiln_schema"))
    }

    func testWorkersStartingTogetherMigrateOnce() async throws {
        let url = try fresh()
        // Four workers at once, one child task each; each returns its error if any.
        let errors = await withTaskGroup(of: String?.self, returning: [String].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    do { _ = try await PostgresJobQueue(url: url); return nil } catch { return "\(error)" }
                }
            }
            var errors: [String] = []
            for await error in group { if let error { errors.append(error) } }
            return errors
        }
        XCTAssertEqual(errors, [])
        let schema = try await PostgresTestServer.execute(url, "SELECT count(*), max(version) FROM kiln_schema")
        XCTAssertEqual(schema, [["1", "\(PostgresSchema.knownVersion)"]])
    }

    // MARK: Claims and NOTIFY

    func testNotifyWakesAWaitingWorkerEarly() async throws {
        let url = try fresh()
        let worker = try await PostgresJobQueue(url: url), other = try await PostgresJobQueue(url: url)
        let nothing = try await worker.claim(worker: "w", leaseSeconds: 60)
        XCTAssertNil(nothing)
        Task {
            try? await Task.sleep(for: .seconds(0.5))
            _ = try? await other.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        }
        var start = Date()
        await worker.waitForWork(seconds: 30, unless: StopRequest())
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "NOTIFY ends the wait")
        let woken = try await worker.claim(worker: "w", leaseSeconds: 60)
        XCTAssertNotNil(woken)
        // Without a notification, the wait is plain polling: it lasts its seconds, or until a stop.
        start = Date()
        await worker.waitForWork(seconds: 0.3, unless: StopRequest())
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.29)
        let stop = StopRequest()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { stop.request() }
        start = Date()
        await worker.waitForWork(seconds: 30, unless: stop)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testConcurrentClaimsNeverTakeTheSameJob() async throws {
        let url = try fresh()
        let queue = try await PostgresJobQueue(url: url)
        for _ in 0..<200 { try await queue.enqueue(model: "m", request: RenderRequest(prompt: "x")) }
        var workers: [PostgresJobQueue] = []
        for _ in 0..<4 { workers.append(try await PostgresJobQueue(url: url)) }
        let (claimed, errors) = await claimUntilEmpty(workers, leaseSeconds: 600)
        XCTAssertEqual(errors, [])
        XCTAssertEqual(claimed.count, 200)
        XCTAssertEqual(Set(claimed).count, 200, "each job claimed exactly once")
        let running = try await PostgresTestServer.execute(url, "SELECT count(*), max(attempts) FROM jobs WHERE state = 'running'")
        XCTAssertEqual(running, [["200", "1"]])
    }

    func testADroppedConnectionIsReplaced() async throws {
        let url = try fresh()
        let queue = try await PostgresJobQueue(url: url)
        try await queue.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        let database = try PostgresLocation(url: url).database
        try await PostgresTestServer.execute(try PostgresTestServer.adminURL(),
                                             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND application_name = 'kiln'")
        let counts = try await queue.counts()
        XCTAssertEqual(counts, ["queued": 1])
        let claimed = try await queue.claim(worker: "w", leaseSeconds: 60)
        XCTAssertNotNil(claimed)
    }

    // MARK: The gallery's reader (connection pool)

    func testTheGalleryReaderReadsThroughThePoolAndSurvivesATerminatedConnection() async throws {
        let url = try fresh()
        let queue = try await PostgresJobQueue(url: url)
        try await queue.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        let reader = try await PostgresGalleryReader.open(url: url)
        let database = try PostgresLocation(url: url).database
        try await reader.whileRunning {
            let before = try await reader.overview().counts
            XCTAssertEqual(before, ["queued": 1])
            let terminated = try await PostgresTestServer.execute(try PostgresTestServer.adminURL(), """
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(database)' AND application_name = 'kiln'
                """)
            XCTAssertNotEqual(terminated, [["0"]], "the pool and the queue hold connections")
            let started = Date()
            let after = try await reader.jobs(QueueFilter(), page: PageRequest()).total
            XCTAssertEqual(after, 1, "read again on a fresh connection")
            XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        }
    }

    func testTheGalleryReaderRefusesWhatItCannotReadInOneLine() async throws {
        let url = try fresh()
        var message = ""
        do { _ = try await PostgresGalleryReader.open(url: url) } catch { message = "\(error)" }
        XCTAssertTrue(message.contains("no Kiln queue in this database"), message)
        let wrong = try PostgresTestServer.url(url, database: try PostgresLocation(url: url).database, password: "not-the-password")
        message = ""
        do { _ = try await PostgresGalleryReader.open(url: wrong) } catch { message = "\(error)" }
        XCTAssertFalse(message.isEmpty)
        XCTAssertFalse(message.contains("not-the-password"), message)
        XCTAssertFalse(message.contains("\n"), message)
    }

    func testADeadlineGivesUpWithoutWaitingForTheCall() async throws {
        struct Late: Error {}
        let started = Date()
        do {
            _ = try await Deadline.run(seconds: 0.2, else: Late()) { try await Task.sleep(for: .seconds(30)); return 1 }
            XCTFail("no timeout")
        } catch is Late {}
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        let value = try await Deadline.run(seconds: 10, else: Late()) { 7 }
        XCTAssertEqual(value, 7)
        // A call whose connection closed under it is given up after the grace, as lost.
        let closedAt = Date()
        do {
            _ = try await Deadline.run(seconds: 30, else: Late(), closed: { true }, grace: 0.3) { try await Task.sleep(for: .seconds(30)); return 1 }
            XCTFail("not given up")
        } catch {
            XCTAssertTrue(PostgresQueueFailure.isConnectionLost(error), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(closedAt), 5)
        struct Failed: Error {}
        do {
            _ = try await Deadline.run(seconds: 10, else: Late()) { () async throws -> Int in throw Failed() }
            XCTFail("no error")
        } catch is Failed {}
    }

    // MARK: Reports

    func testReportIsReadOnlyAndStopsAtItsTimeout() async throws {
        let url = try fresh()
        try await PostgresJobQueue(url: url).enqueue(model: "m", request: RenderRequest(prompt: "x"))
        let reader = try await PostgresQueueReader(url: url)
        for sql in ["DELETE FROM jobs", "DROP TABLE jobs", "UPDATE jobs SET priority = 9", "INSERT INTO queue_state VALUES ('a', 'b')",
                    "CREATE TABLE t (x int)", "WITH d AS (DELETE FROM jobs RETURNING 1) SELECT * FROM d"] {
            await XCTAssertThrowsErrorAsync(try await reader.query(sql, timeout: 10), sql) { error in
                guard case QueueError.readOnlyViolation = error else { return XCTFail("\(sql): \(error)") }
            }
        }
        await XCTAssertThrowsErrorAsync(try await reader.query("SELECT 1; DELETE FROM jobs", timeout: 10))
        let counted = try await reader.query("SELECT count(*), max(priority) FROM jobs", timeout: 10)
        XCTAssertEqual(counted.rows, [["1", "0"]])
        let start = Date()
        let timedOut = await failure { try await reader.query("SELECT pg_sleep(30)", timeout: 0.5) }
        XCTAssertEqual(timedOut, "query failed: stopped after 0.5 s; narrow the query or raise --timeout")
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        let empty = try await reader.query("SELECT job_id, state FROM jobs WHERE false", timeout: 10)
        XCTAssertEqual(empty, ReportTable(columns: ["job_id", "state"], rows: []))
        let values = try await reader.query("""
            SELECT 1::int2, 2::int4, 3::int8, 0.5::float8, 5::float8, 12.340::numeric, 1e20::numeric, -0.001::numeric, 'x'::text,
                   '\\x010203'::bytea, true, false, '{"a": [1, 2]}'::jsonb, '[1,2]'::json, NULL,
                   '2026-11-30 05:31:02.123+00'::timestamptz, '2026-11-30'::date, ARRAY[1, 2], ARRAY['a b', NULL]
            """, timeout: 10)
        XCTAssertEqual(values.rows, [["1", "2", "3", "0.5", "5.0", "12.340", "100000000000000000000", "-0.001", "x", "<3 bytes>", "1", "0",
                                      #"{"a": [1, 2]}"#, "[1,2]", nil, "2026-11-30T05:31:02.123Z", "2026-11-30", "{1,2}", #"{"a b",NULL}"#]])
    }

    /// The same outputs on both databases answer report queries alike: the views, the status
    /// table, and the example reports (Examples/reports).
    func testViewsPrintAsOnSQLite() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sqlitePath = (dir as NSString).appendingPathComponent("q.db")
        let url = try fresh()
        var request = RenderRequest(prompt: "a cat")
        request.steps = 4
        request.guidance = 5
        // Below 2^63: SQLite's json_extract turns larger seeds into reals (1.8446744073709552e+19),
        // where PostgreSQL's numeric keeps every digit.
        request.seed = 9_007_199_254_740_993
        request.originalSize = PixelSize(width: 640, height: 480)
        var provenance = Provenance(kilnVersion: "0.2.0", request: request, width: 64, height: 48, scheduler: "euler",
                                    schedulerClass: "EulerDiscreteScheduler", seed: request.seed, imageIndex: 0, model: "m",
                                    modelHash: "abc", watermarkBits: nil, seconds: 1.5)
        provenance.guidance = 5
        provenance.strength = 0.3
        provenance.schedulerConfig = #"{"beta_end":0.012}"#
        let stores: [any JobQueue] = [try SQLiteJobQueue(path: sqlitePath), try await PostgresJobQueue(url: url)]
        for store in stores {
            try await store.enqueue(model: "m", request: request, priority: 2)
            try await store.enqueue(model: "m", request: request)
            try await store.enqueue(model: "m", request: request, priority: 1)
            let claimed = try await store.claim(worker: "w", leaseSeconds: 60)
            let job = try XCTUnwrap(claimed)
            _ = try await store.saveCheckpoint(jobID: job.jobID, worker: "w", stage: "base", step: 1, steps: 4, state: Data([1]),
                                               stepSeconds: 0.25, leaseSeconds: 60)
            _ = try await store.saveCheckpoint(jobID: job.jobID, worker: "w", stage: "base", step: 2, steps: 4, state: Data([2]),
                                               stepSeconds: 1, leaseSeconds: 60)
            let finished = try await store.finish(jobID: job.jobID, worker: "w", attempt: job.attempt, images: [
                FinishedImage(index: 0, png: Data([1, 2]), outputPath: nil, provenance: provenance.json(), watermarkWritten: nil, watermarkRead: nil),
            ], renderSeconds: 2.5)
            XCTAssertTrue(finished)
            _ = try await store.claim(worker: "w", leaseSeconds: 60)
            _ = try await store.claim(worker: "w", leaseSeconds: 60)
        }
        let readers: [any QueueReader] = [try SQLiteQueueReader(path: sqlitePath), try await PostgresQueueReader(url: url)]
        let examples = try FileManager.default.contentsOfDirectory(atPath: PostgresSpecificTests.examples).sorted()
            .map { try String(contentsOfFile: PostgresSpecificTests.examples + "/" + $0, encoding: .utf8) }
        for view in ["v_outputs", "v_jobs"] {
            let columns = try await readers[0].query("SELECT * FROM \(view) WHERE false", timeout: 10).columns.filter { !$0.hasSuffix("_at") }
            let sql = "SELECT \(columns.joined(separator: ", ")) FROM \(view) ORDER BY job_id"
            let postgresql = try await readers[1].query(sql, timeout: 10), sqlite = try await readers[0].query(sql, timeout: 10)
            XCTAssertEqual(postgresql, sqlite, view)
        }
        for sql in examples {
            let postgresql = try await readers[1].query(sql, timeout: 10), sqlite = try await readers[0].query(sql, timeout: 10)
            XCTAssertEqual(postgresql, sqlite, sql)
        }
        var status: [[[String?]]] = []
        for reader in readers { status.append(try await reader.status().rows.map { row in row.map { $0?.replacingOccurrences(of: "@", with: "") } }) }
        XCTAssertEqual(status[1], status[0])
    }
}
