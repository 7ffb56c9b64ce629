import Foundation
import GRDB
import KilnTestSupport
import Pipelines
import RenderQueue
import XCTest

/// Jobs that used to stay stuck: a cancelled running job of a dead worker, and a job whose stored
/// request no longer decodes (which stopped every worker).
final class StuckJobTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func state(_ store: JobStore, _ id: Int64) throws -> String? {
        try store.database.pool.read { try String.fetchOne($0, sql: "SELECT state FROM jobs WHERE job_id = ?", arguments: [id]) }
    }

    func testCancelledJobOfADeadWorkerIsCancelledAndCanBeRetried() throws {
        let store = JobStore(try QueueDatabase(path: dir + "/q.db"))
        let id = try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        let t0 = Date().timeIntervalSince1970 - 100
        XCTAssertEqual(try store.claim(worker: "gone", leaseSeconds: 10, now: t0)?.jobID, id)
        XCTAssertEqual(try store.cancel(jobs: [id]), 1, "running: cancel requested")
        XCTAssertEqual(try state(store, id), "running")
        XCTAssertNil(try store.claim(worker: "b", leaseSeconds: 10), "a cancelled job is not rendered")
        XCTAssertEqual(try state(store, id), "cancelled", "no longer running forever")
        XCTAssertEqual(try store.retry(jobs: [id]), 1)
        XCTAssertEqual(try store.claim(worker: "b", leaseSeconds: 10)?.jobID, id)
    }

    func testRetryTakesBackACancelledJobWhoseLeaseRanOut() throws {
        let store = JobStore(try QueueDatabase(path: dir + "/q.db"))
        let id = try store.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        XCTAssertEqual(try store.claim(worker: "gone", leaseSeconds: 10, now: Date().timeIntervalSince1970 - 100)?.jobID, id)
        XCTAssertEqual(try store.cancel(jobs: [id]), 1)
        XCTAssertEqual(try store.retry(jobs: [id]), 1, "kiln retry no longer ignores it")
        XCTAssertEqual(try state(store, id), "queued")
    }

    func testAJobThatDoesNotDecodeFailsAloneAndTheNextRuns() throws {
        let store = JobStore(try QueueDatabase(path: dir + "/q.db"))
        try store.database.pool.write { db in
            try db.execute(sql: "INSERT INTO jobs (model, request, steps, priority) VALUES ('m', '{\"version\": 2, \"prompt\": 7}', 1, 5)")
        }
        let good = try store.enqueue(model: "m", request: RenderRequest(prompt: "fine"))
        XCTAssertEqual(try store.claim(worker: "w", leaseSeconds: 10)?.jobID, good)
        let failed = try store.database.pool.read { try Row.fetchOne($0, sql: "SELECT state, error FROM jobs WHERE job_id = 1") }
        XCTAssertEqual(failed?["state"], "failed")
        let error: String = try XCTUnwrap(failed?["error"])
        XCTAssertTrue(error.hasPrefix("job 1: its stored request does not decode"), error)
    }
}

/// A finished render is not thrown away when its output folder vanished.
final class OutputFolderTests: XCTestCase {
    func testAVanishedOutputFolderKeepsTheImageInTheDatabase() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = JobStore(try QueueDatabase(path: dir + "/q.db"))
        var request = RenderRequest(prompt: "x")
        request.steps = 1; request.width = 64; request.height = 64; request.seed = 1
        let id = try store.enqueue(model: Fixtures.model("tiny-sdxl-base"), request: request)
        let folder = dir + "/out"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var options = Worker.Options(name: "w")
        options.outputFolder = folder
        let worker = Worker(store: store, options: options)
        var warnings: [String] = []
        worker.onWarning = { warnings.append($0) }
        try FileManager.default.removeItem(atPath: folder)
        XCTAssertEqual(try worker.runOne(), .done(id))
        let kept = try store.database.pool.read { try Row.fetchOne($0, sql: "SELECT png IS NOT NULL AS kept, output_path FROM outputs") }
        XCTAssertEqual(kept?["kept"], true)
        XCTAssertNil(kept?["output_path"] as String?)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("is gone") ?? false)
    }
}
