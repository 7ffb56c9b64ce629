import Foundation
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// Four workers, each with its own connection, claiming 200 jobs at once with empty renders:
/// every job is claimed and finished exactly once. Prints the claim throughput of each backend.
final class ConcurrentClaimTests: QueueTestCase {
    func testFourWorkersClaimTwoHundredJobsOnce() async throws {
        try await onEachBackend { backend in
            let (store, location) = try await openQueue("claims")
            var request = RenderRequest(prompt: "x")
            request.steps = 1
            for _ in 0..<200 { try await store.enqueue(model: "m", request: request) }
            var stores: [any JobQueue] = []
            for _ in 0..<4 { stores.append(try await Queues.open(location)) }
            let start = Date()
            let (claimed, errors) = await claimUntilEmpty(stores, leaseSeconds: 60) { worker, name, job in
                let png = Data("job \(job.jobID)".utf8)
                guard try await worker.finish(jobID: job.jobID, worker: name, attempt: job.attempt, images: [
                    FinishedImage(index: 0, png: png, outputPath: nil, provenance: "{}", watermarkWritten: nil, watermarkRead: nil),
                ], renderSeconds: 0) else { throw TestQueues.Unavailable(description: "lease lost on job \(job.jobID)") }
            }
            let seconds = Date().timeIntervalSince(start)
            XCTAssertEqual(errors, [])
            XCTAssertEqual(claimed.count, 200)
            XCTAssertEqual(Set(claimed).count, 200, "no job claimed twice")
            let outputs = try await report(location, "SELECT COUNT(*), COUNT(DISTINCT job_id), MAX(attempt) FROM outputs")
            XCTAssertEqual(outputs, [["200", "200", "1"]])
            print(String(format: "claim throughput (%@, 4 workers, claim + finish, empty renders): %.0f claims/s", backend.rawValue,
                         Double(claimed.count) / seconds))
        }
    }
}
