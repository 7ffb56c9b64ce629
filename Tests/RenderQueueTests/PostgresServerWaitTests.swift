import Foundation
import KilnTestSupport
import Pipelines
@testable import PostgresQueue
import RenderQueue
import XCTest

/// A worker's PostgreSQL queue waits for a server that went away (`ServerQueue`): checkpoints
/// and renewals are skipped at once, writes wait for the lease, idle calls until a stop; and
/// errors other than a lost server still fail at once. The server is `Tests/postgres.sh`'s,
/// stopped and started with its `KILN_TEST_POSTGRES_CTL` script.
final class PostgresServerWaitTests: XCTestCase {
    var databases: [String] = []

    override func tearDown() async throws {
        PostgresServerControl.ensureStarted()  // whatever a failed test left behind
        for url in databases { await PostgresTestServer.drop(url) }
        try await super.tearDown()
    }

    func fresh() throws -> String {
        let url = try PostgresTestServer.freshDatabaseURL()
        databases.append(url)
        return url
    }

    func testAJobInHandWaitsForItsLeaseThenIsLeftForTheNextClaim() async throws {
        let url = try fresh()
        let queue = try await PostgresJobQueue(url: url)
        let lines = Locked<[String]>([])
        queue.waitForServer(log: { line in lines.update { $0.append(line) } }, unless: StopRequest())
        try await queue.enqueue(model: "m", request: RenderRequest(prompt: "x"))
        let claimed = try await queue.claim(worker: "w", leaseSeconds: 3)
        let job = try XCTUnwrap(claimed)
        let saved = try await queue.saveCheckpoint(jobID: job.jobID, worker: "w", stage: "base", step: 1, steps: 4, state: Data("1".utf8),
                                                   stepSeconds: 0.1, leaseSeconds: 3)
        XCTAssertEqual(saved, .keepGoing)
        try PostgresServerControl.run("stop")
        let leaseEnds = Date().addingTimeInterval(3)

        // Checkpoints and renewals do not hold the render up while the server is away.
        var start = Date()
        let skipped = try await queue.saveCheckpoint(jobID: job.jobID, worker: "w", stage: "base", step: 2, steps: 4, state: Data("2".utf8),
                                                     stepSeconds: 0.1, leaseSeconds: 3)
        XCTAssertEqual(skipped, .keepGoing)
        await XCTAssertThrowsErrorAsync(try await queue.renewLease(jobID: job.jobID, worker: "w", leaseSeconds: 3))
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "skipped, not waited for")
        XCTAssertEqual(lines.value.count, 1, "one line when the server is lost: \(lines.value)")
        XCTAssertTrue(lines.value.first?.hasPrefix("lost the queue's server (") ?? false, "\(lines.value)")

        // The finish waits while the lease lasts, then reports the job lost, without throwing.
        start = Date()
        let finished = try await queue.finish(jobID: job.jobID, worker: "w", attempt: job.attempt, images: [], renderSeconds: 1)
        XCTAssertFalse(finished)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(leaseEnds), -1, "waited for the lease")
        XCTAssertLessThan(Date().timeIntervalSince(leaseEnds), 2, "gave up when the lease ran out")
        XCTAssertEqual(lines.value.count, 1, "\(lines.value)")

        // Idle, the queue waits for the server however long it takes; the job's lease has run out,
        // so the next claim takes it again, with the last checkpoint that was saved.
        DispatchQueue.global().asyncAfter(deadline: .now() + 2) { _ = try? PostgresServerControl.run("start") }
        start = Date()
        let claimedAgain = try await queue.claim(worker: "w2", leaseSeconds: 60)
        let again = try XCTUnwrap(claimedAgain)
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 1.5, "waited for the server")
        XCTAssertEqual(again.jobID, job.jobID)
        XCTAssertEqual(again.attempt, 2)
        XCTAssertEqual(again.checkpoint, Data("1".utf8), "the last checkpoint the server got")
        XCTAssertEqual(lines.value.count, 2, "\(lines.value)")
        XCTAssertTrue(lines.value.last?.hasPrefix("the queue's server is back (\(queue.displayName)) after ") ?? false, "\(lines.value)")
    }

    func testAnIdleWaitEndsOnAStopRequest() async throws {
        let url = try fresh()
        let queue = try await PostgresJobQueue(url: url)
        let stop = StopRequest()
        queue.waitForServer(log: { _ in }, unless: stop)
        try PostgresServerControl.run("stop")
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) { stop.request() }
        let start = Date()
        await XCTAssertThrowsErrorAsync(try await queue.claim(worker: "w", leaseSeconds: 60)) { error in
            XCTAssertEqual((error as? ServerWaitEnded)?.reason, .stopRequested, "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
    }

    func testWithoutWaitingALostServerFailsAtOnceAsBefore() async throws {
        let url = try fresh()
        let queue = try await PostgresJobQueue(url: url)
        try PostgresServerControl.run("stop")
        let start = Date()
        await XCTAssertThrowsErrorAsync(try await queue.counts()) { error in
            XCTAssertTrue("\(error)".contains("connection refused"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testADatabaseThatIsGoneFailsAtOnceWhileWaiting() async throws {
        let url = try PostgresTestServer.freshDatabaseURL()
        let queue = try await PostgresJobQueue(url: url)
        queue.waitForServer(log: { _ in }, unless: StopRequest())
        await PostgresTestServer.drop(url)  // terminates the queue's connection, then drops the database
        let start = Date()
        await XCTAssertThrowsErrorAsync(try await queue.counts()) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "not waited for")
    }
}
