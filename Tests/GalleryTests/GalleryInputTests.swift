import Foundation
import Gallery
import HTTPTypes
import HummingbirdTesting
import KilnTestSupport
import ModelFiles
import Pipelines
import QueueBackends
import RenderQueue
import XCTest

/// A job's input pictures on its image page ("Inputs": the image, the mask, each control image)
/// and at /inputs/SHA256, which serves only bytes a job's request names as such, on both databases.
final class GalleryInputTests: QueueTestCase {
    typealias Input = (hash: String, data: Data)

    func fixture(_ name: String) throws -> Input {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/\(name)")))
        return (SHA256.hex(data), data)
    }

    /// Inserts `request` with `blobs`, claims and finishes it with one image whose provenance
    /// holds the stored request; returns the image's output id.
    func finished(_ store: any JobQueue, _ reader: any GalleryReader, _ request: RenderRequest, blobs: [Input]) async throws -> Int64 {
        let id = try await store.insertJob(model: Fixtures.model("tiny-sdxl-base"), config: nil, request: request,
                                     requestJSON: try JobRequests.encode(request),
                                     blobs: Dictionary(uniqueKeysWithValues: blobs.map { ($0.hash, $0.data) }),
                                     priority: 0, sweepID: nil, maxAttempts: 3)
        let claimed = try await store.claim(worker: "w", leaseSeconds: 60)
        let job = try XCTUnwrap(claimed)
        XCTAssertEqual(job.jobID, id)
        let record = Provenance(kilnVersion: Provenance.currentVersion, request: job.request, width: 64, height: 64, scheduler: "euler",
                                schedulerClass: "EulerDiscreteScheduler", seed: job.request.seed, imageIndex: 0, model: "m",
                                modelHash: "h", watermarkBits: nil, seconds: 1)
        let provenance = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        let done = try await store.finish(jobID: id, worker: "w", attempt: job.attempt, images: [
            FinishedImage(index: 0, png: Data([1]), outputPath: nil, provenance: provenance, watermarkWritten: nil, watermarkRead: nil),
        ], renderSeconds: 1)
        XCTAssertTrue(done)
        let found = try await reader.job(id)?.outputs.first
        return try XCTUnwrap(found)
    }

    func testInputsAreShownAndServedOnlyWhenAJobNamesThem() async throws {
        let control = try fixture("control-edges-75x61.png"), photo = try fixture("input-photo-88x72.jpg")
        let mask = try fixture("mask-rgb-88x72.png"), loose = try fixture("control-shapes-75x61.png")
        let latents = try fixture("canny-noise-37x23.png")
        try await onEachBackend { _ in
            let location = try queue("inputs")
            let store = try await Queues.open(location), reader = try await Queues.openGalleryReader(location)
            let (controlOutput, inpaintOutput, plainOutput) = try await reader.whileRunning {
                var withControl = RenderRequest(prompt: "edges")
                withControl.controlnet.models = [Fixtures.model("tiny-controlnet")]
                withControl.controlnet.images = [InputReference(sha256: control.hash, file: "edges <1>.png")]
                withControl.controlnet.scales = [0.5]
                withControl.controlnet.starts = [0.1]
                withControl.controlnet.ends = [0.7]
                // `loose` is stored beside it but named by no request.
                let controlOutput = try await finished(store, reader, withControl, blobs: [control, loose])
                var inpaint = RenderRequest(prompt: "photo")
                inpaint.image = InputReference(sha256: photo.hash, file: "photo.jpg")
                inpaint.mask = InputReference(sha256: mask.hash, file: "mask.png")
                let inpaintOutput = try await finished(store, reader, inpaint, blobs: [photo, mask])
                // Latents are a stored input too, but not a picture: never served.
                var fromLatents = RenderRequest(prompt: "latents")
                fromLatents.latents = InputReference(sha256: latents.hash, file: "start.png")
                let plainOutput = try await finished(store, reader, fromLatents, blobs: [latents])
                return (controlOutput, inpaintOutput, plainOutput)
            }

            try await gallery(location).test(.router) { client in
                var r = try await get(client, "/outputs/\(controlOutput)")
                XCTAssertEqual(r.status, .ok)
                XCTAssertTrue(r.text.contains("<h2>Inputs</h2>"), r.text)
                XCTAssertTrue(r.text.contains("<figure data-input=\"control-0\"><a href=\"/inputs/\(control.hash)\"><img src=\"/inputs/\(control.hash)\""),
                              r.text)
                XCTAssertTrue(r.text.contains(">ControlNet 0: edges &lt;1&gt;.png · scale 0.5 · window 0.1–0.7</figcaption>"), r.text)
                XCTAssertFalse(r.text.contains("edges <1>"))
                XCTAssertFalse(r.text.contains("data-input=\"image\""))

                r = try await get(client, "/inputs/\(control.hash)")
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(r.bytes, control.data)
                XCTAssertEqual(r.headers[.contentType], "image/png")
                XCTAssertEqual(r.headers[.cacheControl], "private, max-age=86400")
                XCTAssertEqual(r.headers[.eTag], "\"\(control.hash)\"")
                XCTAssertEqual(r.headers[HTTPField.Name("X-Content-Type-Options")!], "nosniff")
                r = try await get(client, "/inputs/\(control.hash)", [.ifNoneMatch: "\"\(control.hash)\""])
                XCTAssertEqual(r.status, .notModified)
                let head = try await client.execute(uri: "/inputs/\(control.hash)", method: .head)
                XCTAssertEqual(head.status, .ok)
                XCTAssertEqual(head.headers[.contentType], "image/png")
                XCTAssertEqual(head.body.readableBytes, 0)

                r = try await get(client, "/outputs/\(inpaintOutput)")
                XCTAssertTrue(r.text.contains("<figure data-input=\"image\"><a href=\"/inputs/\(photo.hash)\">"), r.text)
                XCTAssertTrue(r.text.contains("<figure data-input=\"mask\"><a href=\"/inputs/\(mask.hash)\">"), r.text)
                XCTAssertTrue(r.text.contains(">image: photo.jpg</figcaption>") && r.text.contains(">mask: mask.png</figcaption>"), r.text)
                XCTAssertFalse(r.text.contains("data-input=\"control-0\""))
                r = try await get(client, "/inputs/\(photo.hash)")
                XCTAssertEqual(r.bytes, photo.data)
                XCTAssertEqual(r.headers[.contentType], "image/jpeg")
                r = try await get(client, "/inputs/\(mask.hash)")
                XCTAssertEqual(r.bytes, mask.data)
                XCTAssertEqual(r.headers[.contentType], "image/png")

                r = try await get(client, "/outputs/\(plainOutput)")
                XCTAssertEqual(r.status, .ok)
                XCTAssertFalse(r.text.contains("Inputs"), r.text)

                let random = SHA256.hex(Data("nothing stored".utf8))
                for hash in [loose.hash, latents.hash, random] {
                    r = try await get(client, "/inputs/\(hash)")
                    XCTAssertEqual(r.status, .notFound, hash)
                    XCTAssertTrue(r.text.contains("no job has an input image, mask or control image with SHA-256 \(hash)"), r.text)
                    XCTAssertFalse(r.text.contains("IHDR"))
                }
                for bad in ["xyz", control.hash.uppercased(), String(control.hash.dropLast()), control.hash + "0", control.hash + ".png"] {
                    r = try await get(client, "/inputs/\(bad)")
                    XCTAssertEqual(r.status, .badRequest, bad)
                    XCTAssertTrue(r.text.contains("64 lowercase hex digits"), r.text)
                }
            }

            // The same access control as every route: without the token, nothing.
            try await gallery(location, GalleryOptions(token: "s3cret-token-0123456789")).test(.router) { client in
                var r = try await get(client, "/inputs/\(control.hash)")
                XCTAssertEqual(r.status, .unauthorized)
                XCTAssertFalse(r.bytes.starts(with: control.data.prefix(8)))
                r = try await get(client, "/inputs/\(control.hash)", [.authorization: "Bearer s3cret-token-0123456789"])
                XCTAssertEqual(r.bytes, control.data)
            }
        }
    }
}
