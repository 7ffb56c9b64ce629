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
    func testPreviewsAreKeptWithTheCheckpointAndNeverChangeTheImage() throws {
        try onEachBackend { _ in
            let (store, location) = try openQueue()
            var request = RenderRequest(prompt: "a lantern")
            request.steps = 3; request.width = 72; request.height = 56; request.seed = 7
            let model = Fixtures.model("tiny-sdxl-base")
            let withPreviews = try store.enqueue(model: model, request: request)
            var options = Worker.Options(name: "w")
            options.previewEvery = 1
            XCTAssertEqual(try Worker(store: store, options: options).runOne(), .done(withPreviews))
            let without = try store.enqueue(model: model, request: request)
            XCTAssertEqual(try Worker(store: store, options: Worker.Options(name: "w")).runOne(), .done(without))

            let reader = try Queues.openReader(location)
            let hex = backend == .sqlite ? "hex(png)" : "encode(png, 'hex')"
            let rows = try reader.query("SELECT \(hex) FROM outputs ORDER BY job_id", timeout: 60).rows
            XCTAssertEqual(rows.count, 2)
            XCTAssertEqual(rows.first, rows.last, "a preview changed the image")

            // Steps 1 and 2 made previews; the last step's checkpoint kept step 2's.
            let preview = try XCTUnwrap(storedPreview(location, job: withPreviews))
            XCTAssertEqual(preview.step, 2)
            let image = try ImageFile.read(data: preview.png, name: "preview")
            XCTAssertEqual([image.width, image.height], [9, 7])  // one pixel per latent pixel
            XCTAssertGreaterThan(Set(image.pixels).count, 10, "a preview of noise has many values")
            XCTAssertNil(try storedPreview(location, job: without))
            XCTAssertNil(try storedPreview(location, job: 999))
        }
    }
}
