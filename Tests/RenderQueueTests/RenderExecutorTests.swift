import Foundation
import KilnTestSupport
import Pipelines
import RenderQueue
@testable import RenderWorker
import XCTest

/// The one bridge between the async queue and the CPU-bound render: a worker's steps run on its
/// own `RenderExecutor`, never on a thread of Swift's cooperative pool, and its lease is renewed
/// from elsewhere while a step holds that executor, on every backend.
final class RenderExecutorTests: QueueTestCase {
    func testStepsRunOnTheWorkersExecutorWhileItsLeaseIsRenewedElsewhere() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            var request = RenderRequest(prompt: "a kiln at night")
            request.steps = 2; request.width = 64; request.height = 64
            let job = try await store.enqueue(model: Fixtures.model("tiny-sdxl-base"), request: request)
            var options = Worker.Options(name: "w")
            options.leaseSeconds = 1  // renewed every 0.5 s
            let worker = Worker(store: store, options: options)
            var onExecutor: [Bool] = [], leaseLeft: [Double] = []
            worker.onStep = { _, step, _ in
                onExecutor.append(RenderExecutor.isCurrent)
                guard step == 1 else { return }
                // A step that holds the executor for 2.5 leases: only a renewal made elsewhere
                // keeps the lease in the future.
                Thread.sleep(forTimeInterval: 2.5)
                let expires = (try? TestQueues.execute(location, "SELECT lease_expires FROM jobs WHERE job_id = \(job)"))?.first.flatMap(Double.init)
                leaseLeft.append((expires ?? 0) - Date().timeIntervalSince1970)
            }
            XCTAssertFalse(RenderExecutor.isCurrent, "the test itself does not run there")
            let outcome = try await worker.runOne()
            XCTAssertEqual(outcome, .done(job))
            XCTAssertEqual(onExecutor, [true, true], "every step ran on the worker's RenderExecutor")
            XCTAssertEqual(leaseLeft.count, 1)
            XCTAssertGreaterThan(leaseLeft.first ?? -1, 0, "the lease was renewed while the step held the executor")
        }
    }
}
