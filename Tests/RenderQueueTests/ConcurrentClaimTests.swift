import Foundation
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// Four workers, each with its own connection, claiming 200 jobs at once with empty renders:
/// every job is claimed and finished exactly once. Prints the claim throughput of each backend.
final class ConcurrentClaimTests: QueueTestCase {
    func testFourWorkersClaimTwoHundredJobsOnce() throws {
        try onEachBackend { backend in
            let (store, location) = try openQueue("claims")
            var request = RenderRequest(prompt: "x")
            request.steps = 1
            for _ in 0..<200 { try store.enqueue(model: "m", request: request) }
            let stores = try (0..<4).map { _ in try Queues.open(location) }
            let lock = NSLock()
            var claimed: [Int64] = [], errors: [String] = []
            let start = Date()
            DispatchQueue.concurrentPerform(iterations: 4) { w in
                let name = "w\(w)"
                do {
                    while let job = try stores[w].claim(worker: name, leaseSeconds: 60) {
                        let png = Data("job \(job.jobID)".utf8)
                        guard try stores[w].finish(jobID: job.jobID, worker: name, attempt: job.attempt, images: [
                            FinishedImage(index: 0, png: png, outputPath: nil, provenance: "{}", watermarkWritten: nil, watermarkRead: nil),
                        ], renderSeconds: 0) else { throw TestQueues.Unavailable(description: "lease lost on job \(job.jobID)") }
                        lock.lock(); claimed.append(job.jobID); lock.unlock()
                    }
                } catch {
                    lock.lock(); errors.append("\(name): \(error)"); lock.unlock()
                }
            }
            let seconds = Date().timeIntervalSince(start)
            XCTAssertEqual(errors, [])
            XCTAssertEqual(claimed.count, 200)
            XCTAssertEqual(Set(claimed).count, 200, "no job claimed twice")
            XCTAssertEqual(try report(location, "SELECT COUNT(*), COUNT(DISTINCT job_id), MAX(attempt) FROM outputs"), [["200", "200", "1"]])
            print(String(format: "claim throughput (%@, 4 workers, claim + finish, empty renders): %.0f claims/s", backend.rawValue,
                         Double(claimed.count) / seconds))
        }
    }
}
