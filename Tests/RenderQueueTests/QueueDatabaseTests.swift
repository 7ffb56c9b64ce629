import Foundation
import ModelFiles
import GRDB
import KilnTestSupport
import Pipelines
import RenderQueue
import XCTest

final class QueueDatabaseTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testMigrationsApplyOnceAndEqualTheSQLFiles() throws {
        let db = try QueueDatabase(path: dir + "/q.db")
        XCTAssertEqual(db.version, QueueDatabase.knownVersion)
        XCTAssertEqual(try QueueDatabase(path: dir + "/q.db").version, QueueDatabase.knownVersion, "reopening changes nothing")
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.root + "/../../Migrations").filter { $0.hasSuffix(".sql") }
        XCTAssertEqual(files.count, QueueDatabase.knownVersion, "run Migrations/embed.sh after adding a migration")
        let journal = try db.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(journal, "wal")
        let strict = try db.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM pragma_table_list WHERE strict = 1") }
        XCTAssertGreaterThanOrEqual(strict ?? 0, 5)
    }

    func testNewerDatabaseIsRefused() throws {
        let queue = try DatabaseQueue(path: dir + "/new.db")
        try queue.write { try $0.execute(sql: "PRAGMA user_version = 99") }
        XCTAssertThrowsError(try QueueDatabase(path: dir + "/new.db")) { error in
            XCTAssertTrue("\(error)".contains("newer than this kiln"), "\(error)")
        }
    }

    func testClaimOrderLeaseExpiryAndPause() throws {
        let store = JobStore(try QueueDatabase(path: dir + "/q.db"))
        let low = try store.enqueue(model: "m", request: RenderRequest(prompt: "low"))
        let high = try store.enqueue(model: "m", request: RenderRequest(prompt: "high"), priority: 9)
        let t0 = Date().timeIntervalSince1970
        XCTAssertEqual(try store.claim(worker: "a", leaseSeconds: 10, now: t0)?.jobID, high)
        XCTAssertEqual(try store.claim(worker: "b", leaseSeconds: 10, now: t0)?.jobID, low)
        XCTAssertNil(try store.claim(worker: "c", leaseSeconds: 10, now: t0), "both leased")
        let reclaimed = try store.claim(worker: "c", leaseSeconds: 10, now: t0 + 11)
        XCTAssertEqual(reclaimed?.jobID, high, "an expired lease is claimed again")
        XCTAssertEqual(reclaimed?.attempt, 2)
        XCTAssertFalse(try store.renewLease(jobID: high, worker: "a", leaseSeconds: 10), "the first worker lost it")
        try store.database.pool.write { try $0.execute(sql: "INSERT INTO queue_state VALUES ('paused', '1')") }
        XCTAssertNil(try store.claim(worker: "d", leaseSeconds: 10, now: t0 + 100), "paused queue")
    }

    func testReportIsReadOnly() throws {
        let path = dir + "/q.db"
        let store = JobStore(try QueueDatabase(path: path))
        try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        for sql in ["DELETE FROM jobs", "UPDATE jobs SET priority = 1", "DROP VIEW v_jobs", "PRAGMA user_version = 7",
                    "INSERT INTO blobs VALUES ('a', x'00')", "CREATE TABLE t (x)"] {
            XCTAssertThrowsError(try Report.run(databasePath: path, sql: sql), sql)
        }
        XCTAssertEqual(try Report.run(databasePath: path, sql: "SELECT COUNT(*) AS n FROM v_jobs").rows, [["1"]])
        XCTAssertEqual(try store.counts(), ["queued": 1])
    }

    func testSHA256KnownValues() {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data(repeating: 0x61, count: 1000)).prefix(16), "41edece42d63e8d9")
    }
}
