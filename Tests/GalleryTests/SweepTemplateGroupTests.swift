import Foundation
import Gallery
import HummingbirdTesting
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// `/sweeps/ID?group=prompt_template`: a sweep's images grouped by the template their prompt
/// was expanded from, each template heading its images and each image labelled with its
/// expansion, on SQLite and on PostgreSQL.
final class SweepTemplateGroupTests: QueueTestCase {
    static let spec = """
        model: m
        axes: {prompt: [plain, {combinatorial: 'a {red|blue} fox'}, {combinatorial: 'a {small|big} <b>barn</b>'}], seed: [1, 2]}
        """

    /// The sweep enqueued and every job finished with the provenance a render records.
    func templatedSweep() async throws -> String {
        let location = try queue("templates")
        let store = try await Queues.open(location)
        let spec = try SweepSpec(text: SweepTemplateGroupTests.spec, limit: 100)
        let requests = try (0..<spec.count).map { try spec.request(at: $0) }
        _ = try await store.enqueue(sweep: spec, model: "m", config: nil, requests: requests)
        for _ in requests {
            let claimed = try await store.claim(worker: "w", leaseSeconds: 60)
            let job = try XCTUnwrap(claimed)
            let record = Provenance(kilnVersion: Provenance.currentVersion, request: job.request, width: 64, height: 64, scheduler: "euler",
                                    schedulerClass: "EulerDiscreteScheduler", seed: job.request.seed, imageIndex: 0, model: "m",
                                    modelHash: "h", watermarkBits: nil, seconds: 1)
            let provenance = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
            let done = try await store.finish(jobID: job.jobID, worker: "w", attempt: job.attempt, images: [
                FinishedImage(index: 0, png: Data([1]), outputPath: nil, provenance: provenance, watermarkWritten: nil, watermarkRead: nil),
            ], renderSeconds: 1)
            XCTAssertTrue(done)
        }
        return location
    }

    func matches(_ text: String, _ pattern: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { m in
            Range(m.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    func testSweepGroupedByTemplateOnEachBackend() async throws {
        try await onEachBackend { _ in
            let location = try await templatedSweep()
            try await gallery(location).test(.router) { client in
                var r = try await get(client, "/sweeps/1?group=prompt_template&x=seed&y=none")
                XCTAssertEqual(r.status, .ok)
                // Templates in order (no template last), each heading its own expansions only.
                let headings = #"<h2 class="template">(.*?)</h2>"#
                XCTAssertEqual(matches(r.text, headings), ["Template <code>a {red|blue} fox</code>",
                                                           "Template <code>a {small|big} &lt;b&gt;barn&lt;/b&gt;</code>",
                                                           "Prompts without a template"])
                let sections = r.text.components(separatedBy: "<h2 class=\"template\">").dropFirst().map {
                    matches($0, #"<span class="expansion">([^<]*)</span>"#)
                }
                XCTAssertEqual(sections.map(Set.init), [["a red fox", "a blue fox"], ["a small &lt;b&gt;barn&lt;/b&gt;", "a big &lt;b&gt;barn&lt;/b&gt;"], ["plain"]])
                XCTAssertEqual(sections.map(\.count), [4, 4, 2], "each image labelled once")
                XCTAssertTrue(r.text.contains("<option value=\"prompt_template\" selected>"), r.text)
                // A page further on keeps the grouping in its links.
                r = try await get(client, "/sweeps/1?group=prompt_template&x=seed&y=none&per=4")
                XCTAssertTrue(r.text.contains("group=prompt_template"), r.text)
                XCTAssertEqual(matches(r.text, headings).count, 1)
                // Not grouped: no template headings or expansion labels.
                r = try await get(client, "/sweeps/1?x=seed&y=none")
                XCTAssertFalse(r.text.contains("class=\"template\"") || r.text.contains("class=\"expansion\""))
                r = try await get(client, "/sweeps/1?group=negative_prompt")
                XCTAssertEqual(r.status, .badRequest)
                XCTAssertTrue(r.text.contains("group takes prompt_template or none"), r.text)
            }
        }
    }
}
