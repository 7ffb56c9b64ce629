import Foundation
import Gallery
import HummingbirdTesting
import Imaging
import KilnTestSupport
import QueueBackends
import RenderQueue
import XCTest

/// Every page of `kiln serve` over a rendered sweep, on SQLite and on PostgreSQL, through
/// Hummingbird's test client.
final class GalleryPageTests: QueueTestCase {
    func testEveryPageOnEachBackend() async throws {
        try await onEachBackend { _ in
            let location = try await gallerySweep()
            let storedRead = try await Queues.withGalleryReader(location) { try await $0.outputImage(1)?.png }
            let stored = try XCTUnwrap(storedRead)
            try await gallery(location).test(.router) { client in
                var r = try await get(client, "/")
                XCTAssertEqual(r.status, .ok)
                XCTAssertTrue(r.text.contains("<td id=\"count-done\">12</td>"), r.text)
                XCTAssertEqual(r.headers[.contentType], "text/html; charset=utf-8")

                r = try await get(client, "/sweeps")
                XCTAssertTrue(r.text.contains("<progress value=\"12\" max=\"12\">"), r.text)
                XCTAssertTrue(r.text.contains("gallery &lt;b&gt;sweep&lt;/b&gt;"))

                // The grid: seeds down, schedulers across, one grid per guidance.
                r = try await get(client, "/sweeps/1?x=scheduler&y=seed")
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(matches(r.text, #"<th scope="col" class="x-label" data-value="([^"]*)""#), Array(repeating: ["dpmpp-2m", "euler"], count: 2).flatMap { $0 })
                XCTAssertEqual(matches(r.text, #"<th scope="row" class="y-label" data-value="([^"]*)""#), ["1", "2", "3", "1", "2", "3"])
                XCTAssertEqual(matches(r.text, #"<h2 class="z-label">([^<]*)</h2>"#), ["guidance=3", "guidance=7"])
                XCTAssertEqual(matches(r.text, #"<img src="/outputs/(\d+)/thumb""#).count, 12)
                // Defaults: the longest axis down, the next across; "none" collapses an axis.
                r = try await get(client, "/sweeps/1")
                XCTAssertTrue(r.text.contains("<select name=\"y\" id=\"axis-y\"><option value=\"none\">none</option><option value=\"guidance\">guidance</option><option value=\"scheduler\">scheduler</option><option value=\"seed\" selected>"), r.text)
                r = try await get(client, "/sweeps/1?x=none&y=none&per=5&page=3")
                XCTAssertEqual(matches(r.text, #"<img src="/outputs/(\d+)/thumb""#).count, 2)
                XCTAssertTrue(r.text.contains("page 3 of 3"))

                r = try await get(client, "/outputs/1")
                XCTAssertEqual(r.status, .ok)
                XCTAssertTrue(r.text.contains("<tr data-column=\"seed\"><th>seed</th><td class=\"value\">1</td></tr>"))
                XCTAssertTrue(r.text.contains("<pre id=\"render-command\">kiln render --model "), r.text)
                XCTAssertTrue(r.text.contains("--seed 1 --output out.png</pre>"))
                XCTAssertTrue(r.text.contains("id=\"watermark\""))
                XCTAssertTrue(r.text.contains("href=\"/outputs/1.png?download=1\" download=\"job-1-0.png\""))

                r = try await get(client, "/outputs/1.png")
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(r.bytes, stored, "the stored PNG, byte for byte")
                XCTAssertEqual(r.headers[.contentType], "image/png")
                let etag = try XCTUnwrap(r.headers[.eTag])
                let awaited1 = try await get(client, "/outputs/1.png", [.ifNoneMatch: etag]).status
                XCTAssertEqual(awaited1, .notModified)
                let awaited2 = try await get(client, "/outputs/1.png?download=1").headers[.contentDisposition]
                XCTAssertEqual(awaited2, "attachment; filename=\"job-1-0.png\"")

                r = try await get(client, "/outputs/1/thumb")
                XCTAssertEqual(r.status, .ok)
                let thumb = try ImageFile.read(data: r.bytes, name: "thumb")
                XCTAssertEqual([thumb.width, thumb.height], [64, 64], "small images are their own thumbnails")

                r = try await get(client, "/outputs?prompt=LIGHTHOUSE&seed=2")
                XCTAssertTrue(r.text.contains("4 images"), r.text)
                r = try await get(client, "/jobs?state=done&model=tiny")
                XCTAssertTrue(r.text.contains("12 jobs"))
                r = try await get(client, "/jobs?state=failed")
                XCTAssertTrue(r.text.contains("0 jobs"))
                r = try await get(client, "/jobs/1")
                XCTAssertTrue(r.text.contains("<strong id=\"job-state\">done</strong>"))
                XCTAssertFalse(r.text.contains("id=\"cancel\""), "no action buttons while actions are off")

                r = try await get(client, "/compare?a=1&b=4")
                XCTAssertEqual(r.status, .ok)
                XCTAssertTrue(r.text.contains("<tr data-column=\"scheduler\" class=\"differs\">"))
                XCTAssertTrue(r.text.contains("<tr data-column=\"seed\"><th>seed</th>"), "same seed, not marked")
                let awaited3 = try await get(client, "/compare?a=1").status
                XCTAssertEqual(awaited3, .badRequest)

                r = try await get(client, "/events?poll=1")
                XCTAssertEqual(r.headers[.contentType], "application/json")
                XCTAssertTrue(r.text.contains("\"counts\":{\"done\":12}"), r.text)
                r = try await get(client, "/assets/gallery.js")
                XCTAssertEqual(r.headers[.contentType], "text/javascript; charset=utf-8")
            }
        }
    }

    func testLiveQueueStreamsServerSentEvents() async throws {
        try await onEachBackend { _ in
            var options = GalleryOptions()
            options.eventStreamSeconds = 0
            try await gallery(try await gallerySweep(), options).test(.router) { client in
                let r = try await get(client, "/events")
                XCTAssertEqual(r.headers[.contentType], "text/event-stream")
                XCTAssertTrue(r.text.hasPrefix("retry: 5000\n\ndata: {"), r.text)
                XCTAssertTrue(r.text.contains("\"stepsLeft\":0"))
                XCTAssertTrue(r.text.hasSuffix("}\n\n"))
            }
        }
    }

    func testPromptsAreEscapedEverywhere() async throws {
        try await gallery(try await gallerySweep()).test(.router) { client in
            for page in ["/outputs/1", "/jobs/1", "/outputs", "/jobs", "/compare?a=1&b=2", "/outputs?prompt=%3Cscript%3E"] {
                let text = try await get(client, page).text
                XCTAssertFalse(text.contains("<script>alert(1)</script>"), page)
                XCTAssertTrue(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), page)
                XCTAssertEqual(text.components(separatedBy: "<script").count - 1, 1, "only the gallery's own script tag on \(page)")
            }
        }
    }

    func matches(_ text: String, _ pattern: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { m in
            Range(m.range(at: 1), in: text).map { String(text[$0]) }
        }
    }
}
