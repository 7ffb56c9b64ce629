import Foundation
import Imaging
import KilnTestSupport
import Pipelines
import QueueBackends
import RenderQueue
import RenderWorker
import XCTest

/// `kiln work --preview-every N`: a small PNG of the latents is kept with the checkpoint, and the
/// finished image is byte for byte the one a worker without previews renders.
final class PreviewTests: QueueTestCase {
    func testPreviewsAreKeptWithTheCheckpointAndNeverChangeTheImage() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            var request = RenderRequest(prompt: "a lantern")
            request.steps = 3; request.width = 72; request.height = 56; request.seed = 7
            let model = Fixtures.model("tiny-sdxl-base")
            let withPreviews = try await store.enqueue(model: model, request: request)
            var options = Worker.Options(name: "w")
            options.previewEvery = 1
            let previewed = try await Worker(store: store, options: options).runOne()
            XCTAssertEqual(previewed, .done(withPreviews))
            let without = try await store.enqueue(model: model, request: request)
            let plain = try await Worker(store: store, options: Worker.Options(name: "w")).runOne()
            XCTAssertEqual(plain, .done(without))

            let reader = try await Queues.openReader(location)
            let hex = backend == .sqlite ? "hex(png)" : "encode(png, 'hex')"
            let rows = try await reader.query("SELECT \(hex) FROM outputs ORDER BY job_id", timeout: 60).rows
            XCTAssertEqual(rows.count, 2)
            XCTAssertEqual(rows.first, rows.last, "a preview changed the image")

            // Steps 1 and 2 made previews; the last step's checkpoint kept step 2's.
            let stored = try await storedPreview(location, job: withPreviews)
            let preview = try XCTUnwrap(stored)
            XCTAssertEqual(preview.step, 2)
            let image = try ImageFile.read(data: preview.png, name: "preview")
            XCTAssertEqual([image.width, image.height], [9, 7])  // one pixel per latent pixel
            XCTAssertGreaterThan(Set(image.pixels).count, 10, "a preview of noise has many values")
            let none = try await storedPreview(location, job: without)
            XCTAssertNil(none)
            let missing = try await storedPreview(location, job: 999)
            XCTAssertNil(missing)
        }
    }
}
