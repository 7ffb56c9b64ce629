import Foundation
import Gallery
import Hummingbird
import HummingbirdTesting
import KilnTestSupport
import QueueBackends
import RenderQueue
import RenderWorker
import XCTest

/// The queue the gallery tests look at: the tiny model's 12-job sweep (seeds 1-3 x euler,
/// dpmpp-2m x guidance 3, 7; 64 pixels, 2 steps, about a second) rendered by a `Worker`, with
/// a prompt that holds a script tag.
enum GallerySweep {
    static let prompt = "a lighthouse at dusk <script>alert(1)</script>"

    static var spec: String {
        """
        {"name": "gallery <b>sweep</b>", "model": "\(Fixtures.model("tiny-sdxl-base"))",
         "base": {"prompt": "a lighthouse at dusk <script>alert(1)</script>", "negative-prompt": "blurry", "steps": 2, "width": 64, "height": 64},
         "axes": {"seed": {"from": 1, "to": 3}, "scheduler": ["euler", "dpmpp-2m"], "guidance": [3.0, 7.0]}}
        """
    }

    /// Adds the sweep to the queue at `location` and renders every job.
    static func render(at location: String) async throws {
        let store = try await Queues.open(location)
        let sweep = try SweepSpec(text: spec, limit: 1000)
        _ = try await store.enqueue(sweep: sweep, model: sweep.model, config: nil, requests: try (0..<sweep.count).map { try sweep.request(at: $0) })
        let worker = Worker(store: store, options: .init(name: "gallery-test"))
        while true {
            switch try await worker.runOne() {
            case .idle: return
            case .done: continue
            case let other: throw TestQueues.Unavailable(description: "the gallery sweep did not render: \(other)")
            }
        }
    }
}

extension QueueTestCase {
    /// A new queue of the current backend holding the rendered gallery sweep.
    func gallerySweep() async throws -> String {
        let location = try queue("gallery")
        try await GallerySweep.render(at: location)
        return location
    }

    /// The gallery over `location` (with its writer when `options.allowActions`).
    func gallery(_ location: String, _ options: GalleryOptions = GalleryOptions()) async throws -> some ApplicationProtocol {
        let (reader, actions) = try await Queues.openGallery(location, actions: options.allowActions)
        return try Gallery.application(reader: reader, actions: actions, options: options)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var bytes: Data { Data(body.readableBytesView) }
}

/// A GET through the test client, returning the response.
func get(_ client: any TestClientProtocol, _ uri: String, _ headers: HTTPFields = [:]) async throws -> TestResponse {
    try await client.execute(uri: uri, method: .get, headers: headers)
}
