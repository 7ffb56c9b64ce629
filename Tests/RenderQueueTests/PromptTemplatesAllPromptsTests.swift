import Foundation
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// Templates of `prompt-2`, `negative-prompt` and `negative-prompt-2` axes are kept with each job
/// as the `prompt` axis's is, and shown in `v_jobs` and `v_outputs`, alike on both databases.
final class PromptTemplatesAllPromptsTests: QueueTestCase {
    func testEveryPromptsTemplateIsKeptPerJob() async throws {
        let spec = try SweepSpec(text: """
            model: m
            base: {prompt: a fox}
            axes:
              prompt_2: [{combinatorial: 'oil {paint|wash}'}]
              negative-prompt: [plain, {combinatorial: '{blur|noise}'}]
              negative_prompt_2: [{random: '{dull|flat}', count: 1, seed: 3}]
            """, limit: 20)
        let requests = try (0..<spec.count).map { try spec.request(at: $0) }
        XCTAssertEqual(requests.count, 6)
        XCTAssertTrue(requests.allSatisfy { $0.promptTemplate == nil && $0.prompt2Template == "oil {paint|wash}" })
        XCTAssertEqual(requests.map(\.negativePromptTemplate), [nil, nil, "{blur|noise}", "{blur|noise}", "{blur|noise}", "{blur|noise}"])
        XCTAssertTrue(requests.allSatisfy { $0.negativePrompt2Template == "{dull|flat}" })
        var seen: [[[String?]]] = []
        try await onEachBackend { _ in
            let (store, location) = try await openQueue("templates")
            _ = try await store.enqueue(sweep: spec, model: "m", config: nil, requests: requests)
            let columns = "prompt_2_template, negative_prompt_template, negative_prompt_2_template"
            let jobs = try await report(location, "SELECT prompt_template, \(columns) FROM v_jobs ORDER BY job_id")
            XCTAssertEqual(jobs.count, 6)
            XCTAssertEqual(jobs.map { $0[0] }, Array(repeating: nil, count: 6), "the prompt was given as it is")
            XCTAssertEqual(Set(jobs.map { $0[1] }), ["oil {paint|wash}"])
            XCTAssertEqual(jobs.map { $0[2] }, [nil, nil, "{blur|noise}", "{blur|noise}", "{blur|noise}", "{blur|noise}"])
            XCTAssertEqual(Set(jobs.map { $0[3] }), ["{dull|flat}"])
            for _ in 0..<6 {
                let claimed = try await store.claim(worker: "w", leaseSeconds: 60)
                let job = try XCTUnwrap(claimed)
                let finished = try await store.finish(jobID: job.jobID, worker: "w", attempt: job.attempt, images: [
                    FinishedImage(index: 0, png: Data([1]), outputPath: nil, provenance: ViewColumnTests.provenance(job.request),
                                  watermarkWritten: nil, watermarkRead: nil),
                ], renderSeconds: 1)
                XCTAssertTrue(finished)
            }
            let outputs = try await report(location, "SELECT negative_prompt, prompt_2, \(columns) FROM v_outputs ORDER BY job_id")
            XCTAssertEqual(outputs.map { $0[0] }, ["plain", "plain", "blur", "blur", "noise", "noise"])
            XCTAssertEqual(Set(outputs.map { $0[2] }), ["oil {paint|wash}"])
            XCTAssertEqual(outputs.map { $0[3] }, [nil, nil, "{blur|noise}", "{blur|noise}", "{blur|noise}", "{blur|noise}"])
            XCTAssertEqual(Set(outputs.map { $0[4] }), ["{dull|flat}"])
            XCTAssertEqual(Set(outputs.map { $0[1] }), ["oil paint", "oil wash"])
            seen.append(outputs)
        }
        XCTAssertEqual(Set(seen.map { "\($0)" }).count, 1)
    }
}
