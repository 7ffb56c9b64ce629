import Foundation
import Imaging
import KilnTestSupport
import ModelFiles
import Models
import Pipelines
import QueueBackends
import RenderQueue
import RenderWorker
import XCTest

/// `kiln work --preview-every N --preview-vae TAESD`: the stored preview is the AutoencoderTiny's
/// decode of the checkpoint's latents, and the finished image is byte for byte the one a worker
/// without previews renders.
final class TinyVAEPreviewQueueTests: QueueTestCase {
    func testTinyVAEPreviewsAreTheDecodedCheckpointAndNeverChangeTheImage() async throws {
        let taesd = try TinyVAEPreview(path: Fixtures.model("vae-tiny-taesd"))
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            var request = RenderRequest(prompt: "a lantern")
            request.steps = 3; request.width = 72; request.height = 56; request.seed = 7
            let model = Fixtures.model("tiny-sdxl-base")
            var options = Worker.Options(name: "w")
            options.previewEvery = 1
            options.previewVAE = taesd
            let withPreviews = try await store.enqueue(model: model, request: request)
            let previewed = try await Worker(store: store, options: options).runOne()
            XCTAssertEqual(previewed, .done(withPreviews))
            let without = try await store.enqueue(model: model, request: request)
            let plain = try await Worker(store: store, options: Worker.Options(name: "w")).runOne()
            XCTAssertEqual(plain, .done(without))

            let reader = try await Queues.openReader(location)
            let hex = backend == .sqlite ? "hex(png)" : "encode(png, 'hex')"
            let rows = try await reader.query("SELECT \(hex) FROM outputs ORDER BY job_id", timeout: 60).rows
            XCTAssertEqual(rows.count, 2)
            XCTAssertEqual(rows.first, rows.last, "a tiny VAE preview changed the image")

            // A job stopped after step 2 keeps that step's latents and preview together.
            let stopped = try await store.enqueue(model: model, request: request)
            let worker = Worker(store: store, options: options)
            worker.onStep = { _, step, _ in if step == 2 { worker.stop.request() } }
            let released = try await worker.runOne()
            XCTAssertEqual(released, .released(stopped, step: 2, steps: 3))
            let stored = try await storedPreview(location, job: stopped)
            let preview = try XCTUnwrap(stored)
            XCTAssertEqual(preview.step, 2)
            let image = try ImageFile.read(data: preview.png, name: "preview")
            XCTAssertEqual([image.width, image.height], [72, 56], "the tiny VAE's full size (under 256 px)")
            let earlier = try await storedPreview(location, job: withPreviews)
            XCTAssertEqual(earlier?.png, preview.png, "the same latents at step 2")

            let claim = try await store.claim(worker: "check", leaseSeconds: 60)
            let claimed = try XCTUnwrap(claim)
            let state = try JSONDecoder().decode(DenoiseState.self, from: try XCTUnwrap(claimed.checkpoint))
            XCTAssertEqual(state.nextStep, 2)
            let latents = try state.latents.tensor()
            let files = try VAEFiles(path: Fixtures.model("vae-tiny-taesd"))
            guard case .tiny(let vae) = try files.autoencoder(pipelineConfig: try XCTUnwrap(files.config)) else { return XCTFail("not tiny") }
            XCTAssertEqual(image, RGBImage(decoded: vae.decode(latents)), "the preview is the tiny VAE's decode of the checkpoint's latents")
            XCTAssertNotEqual(image.width, LatentPreview.image(latents)?.width, "not the linear approximation")
        }
    }
}
