import Foundation
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// A sweep's prompt template shows in `v_jobs` and `v_outputs` beside the expanded prompt, alike
/// on SQLite and PostgreSQL; prompts given as they are show NULL.
final class PromptTemplateViewTests: QueueTestCase {
    func testTemplateColumnsOnBothDatabases() async throws {
        var seen: [[[String?]]] = []
        try await onEachBackend { _ in
            let (store, location) = try await openQueue("templates")
            let spec = try SweepSpec(text: "model: m\naxes: {prompt: [plain, {combinatorial: 'a {red|blue} fox'}]}\n", limit: 10)
            let requests = try (0..<spec.count).map { try spec.request(at: $0) }
            _ = try await store.enqueue(sweep: spec, model: "m", config: nil, requests: requests)
            let jobs = try await report(location, "SELECT prompt, prompt_template FROM v_jobs ORDER BY job_id")
            XCTAssertEqual(jobs, [["plain", nil], ["a red fox", "a {red|blue} fox"], ["a blue fox", "a {red|blue} fox"]])
            // Finish the templated jobs with the provenance a render records.
            for _ in 0..<3 {
                let claimed = try await store.claim(worker: "w", leaseSeconds: 60)
                let job = try XCTUnwrap(claimed)
                let request = job.request
                let finished = try await store.finish(jobID: job.jobID, worker: "w", attempt: job.attempt, images: [
                    FinishedImage(index: 0, png: Data([1]), outputPath: nil, provenance: ViewColumnTests.provenance(request),
                                  watermarkWritten: nil, watermarkRead: nil),
                ], renderSeconds: 1)
                XCTAssertTrue(finished)
            }
            let outputs = try await report(location, "SELECT prompt, prompt_template FROM v_outputs ORDER BY prompt")
            XCTAssertEqual(outputs, [["a blue fox", "a {red|blue} fox"], ["a red fox", "a {red|blue} fox"], ["plain", nil]])
            seen.append(outputs)
        }
        XCTAssertEqual(Set(seen.map { "\($0)" }).count, 1)
    }
}
