import Foundation
import Gallery
import HummingbirdTesting
import Imaging
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// A running job's preview (`kiln work --preview-every`) on the queue page, the job's page and
/// at /jobs/ID/preview.png, on both databases.
final class GalleryPreviewTests: QueueTestCase {
    func testARunningJobsPreviewIsServedAndShown() async throws {
        try await onEachBackend { _ in
            let location = try queue("preview")
            let store = try await Queues.open(location)
            var request = RenderRequest(prompt: "x")
            request.steps = 4
            let first = try await store.enqueue(model: Fixtures.model("tiny-sdxl-base"), request: request)
            let second = try await store.enqueue(model: Fixtures.model("tiny-sdxl-base"), request: request)
            let png = try PNGFile.encode(RGBImage(width: 3, height: 2, pixels: [UInt8](repeating: 90, count: 18)))
            for id in [first, second] {
                let claimed = try await store.claim(worker: "w\(id)", leaseSeconds: 600, now: Date().timeIntervalSince1970, identity: .current)
                _ = try XCTUnwrap(claimed)
            }
            let withPreview = try await store.saveCheckpoint(jobID: first, worker: "w\(first)", stage: "base", step: 2, steps: 4, state: Data([1]),
                                                             preview: png, stepSeconds: 1, leaseSeconds: 600)
            XCTAssertEqual(withPreview, .keepGoing)
            // A checkpoint without a preview keeps the last one.
            let withoutPreview = try await store.saveCheckpoint(jobID: first, worker: "w\(first)", stage: "base", step: 3, steps: 4, state: Data([2]),
                                                                preview: nil, stepSeconds: 1, leaseSeconds: 600)
            XCTAssertEqual(withoutPreview, .keepGoing)
            try await gallery(location).test(.router) { client in
                var r = try await get(client, "/jobs/\(first)/preview.png")
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(r.bytes, png)
                XCTAssertEqual(r.headers[.contentType], "image/png")
                XCTAssertEqual(r.headers[.cacheControl], "no-store")
                r = try await get(client, "/jobs/\(second)/preview.png")
                XCTAssertEqual(r.status, .notFound)
                XCTAssertTrue(r.text.contains("--preview-every"), r.text)
                r = try await get(client, "/jobs/\(first)")
                XCTAssertTrue(r.text.contains("<figure id=\"job-preview\"><img class=\"preview\" src=\"/jobs/\(first)/preview.png?step=2\""), r.text)
                XCTAssertTrue(r.text.contains("preview at step 2"))
                r = try await get(client, "/jobs/\(second)")
                XCTAssertFalse(r.text.contains("job-preview"))
                r = try await get(client, "/")
                XCTAssertTrue(r.text.contains("<img class=\"preview\" src=\"/jobs/\(first)/preview.png?step=3\""), r.text)
            }
        }
    }
}
