import Foundation
import GRDB
import KilnTestSupport
import Pipelines
@testable import PostgresQueue
import RenderQueue
@testable import SQLiteQueue
import XCTest

/// A claim reads the claim-order index (migration 0006) and stops at the first eligible job,
/// on both databases, so its cost does not grow with the queue: the plans say so, and the order
/// it claims in is still priority DESC, job id, past jobs in backoff, paused sweeps and live
/// leases. (Timings are in KilnQueueBenchmark, not here.)
final class ClaimPlanTests: QueueTestCase {
    /// A queue holding one sweep of `count` jobs.
    func bigQueue(_ count: Int) async throws -> (store: any JobQueue, location: String) {
        let (store, location) = try await openQueue()
        let json = try JobRequests.encode(RenderRequest(prompt: "p"))
        _ = try await store.insertSweep(name: nil, spec: "{}", priority: 0, model: "m", config: nil,
                                  jobs: Array(repeating: (steps: 1, requestJSON: json), count: count), blobs: [:])
        return (store, location)
    }

    /// The claim's plan, as the database explains it.
    func claimPlan(_ store: any JobQueue) async throws -> String {
        if let queue = store as? SQLiteJobQueue {
            return try await queue.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SQLiteJobQueue.nextJob, arguments: ["now": 1.0, "host": "h"])
                    .map { $0["detail"] as String }.joined(separator: "\n")
            }
        }
        let queue = try XCTUnwrap(store as? PostgresJobQueue)
        var explain = PostgresJobQueue.claimStatement(worker: "w", leaseSeconds: 10, now: 1, identity: .current, gone: [])
        explain.sql = "EXPLAIN " + explain.sql
        let statement = explain
        return try await queue.session.autocommit { s in try await s.rows(statement).map { try $0.decode(String.self) } }.joined(separator: "\n")
    }

    func assertReadsTheIndex(_ plan: String, _ what: String) {
        XCTAssertTrue(plan.contains("USING INDEX jobs_claim_order") || plan.contains("Index Scan using jobs_claim_order on jobs j"),
                      "\(what):\n\(plan)")
        XCTAssertFalse(plan.contains("TEMP B-TREE") || plan.contains("Sort"), "\(what): the claim sorts:\n\(plan)")
    }

    /// Right after a large sweep (PostgreSQL: before autovacuum has looked at it), and in an old
    /// queue whose jobs are mostly done.
    func testClaimReadsTheClaimOrderIndexWithoutSorting() async throws {
        try await onEachBackend { backend in
            let count = backend == .sqlite ? 2_000 : 100_000
            let (store, location) = try await bigQueue(count)
            assertReadsTheIndex(try await claimPlan(store), "a new sweep")
            try TestQueues.execute(location, "UPDATE jobs SET state = 'done' WHERE job_id <= \(count * 9 / 10)")
            if backend == .postgresql { try TestQueues.execute(location, "ANALYZE jobs") }
            assertReadsTheIndex(try await claimPlan(store), "an old queue")
        }
    }

    /// The index changes how a claim looks, not what it takes.
    func testClaimOrderPastBackoffPausedSweepsAndLiveLeases() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            let json = try JobRequests.encode(RenderRequest(prompt: "p"))
            let paused = try await store.insertSweep(name: "paused", spec: "{}", priority: 9, model: "m", config: nil,
                                                     jobs: [(1, json), (1, json)], blobs: [:])
            try await store.setPaused(true, sweep: paused)
            let waiting = try await store.enqueue(model: "m", request: RenderRequest(prompt: "backoff"), priority: 8)
            let leased = try await store.enqueue(model: "m", request: RenderRequest(prompt: "leased"), priority: 7)
            let low = try await store.enqueue(model: "m", request: RenderRequest(prompt: "low"), priority: 1)
            let next = try await store.enqueue(model: "m", request: RenderRequest(prompt: "next"), priority: 5)
            let t0 = Date().timeIntervalSince1970
            try TestQueues.execute(location, "UPDATE jobs SET not_before = \(t0 + 1000) WHERE job_id = \(waiting)")
            let a = try await store.claim(worker: "a", leaseSeconds: 100, now: t0)
            XCTAssertEqual(a?.jobID, leased)
            let b = try await store.claim(worker: "b", leaseSeconds: 100, now: t0)
            XCTAssertEqual(b?.jobID, next)
            let c = try await store.claim(worker: "c", leaseSeconds: 100, now: t0)
            XCTAssertEqual(c?.jobID, low)
            let d = try await store.claim(worker: "d", leaseSeconds: 100, now: t0)
            XCTAssertNil(d, "the rest wait: backoff, paused sweep, live leases")
            let expired = try await store.claim(worker: "d", leaseSeconds: 100, now: t0 + 500)
            XCTAssertEqual(expired?.jobID, leased, "an expired lease comes first by priority")
            let pastBackoff = try await store.claim(worker: "e", leaseSeconds: 100, now: t0 + 2000)
            XCTAssertEqual(pastBackoff?.jobID, waiting, "the backoff is over")
            try await store.setPaused(false, sweep: paused)
            var rest: [Int64] = []
            for _ in 0..<2 {
                if let id = try await store.claim(worker: "f", leaseSeconds: 100, now: t0 + 2000)?.jobID { rest.append(id) }
            }
            XCTAssertEqual(rest.count, 2)
            XCTAssertEqual(rest, rest.sorted())
        }
    }
}
