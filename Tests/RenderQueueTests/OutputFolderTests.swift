import Foundation
import KilnTestSupport
import Pipelines
import RenderQueue
import RenderWorker
import XCTest

/// A finished render is not thrown away when its output folder vanished.
final class OutputFolderTests: QueueTestCase {
    func testAVanishedOutputFolderKeepsTheImageInTheDatabase() async throws {
        try await onEachBackend { _ in
            let (store, location) = try await openQueue()
            var request = RenderRequest(prompt: "x")
            request.steps = 1; request.width = 64; request.height = 64; request.seed = 1
            let id = try await store.enqueue(model: Fixtures.model("tiny-sdxl-base"), request: request)
            let folder = dir + "/out"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var options = Worker.Options(name: "w")
            options.outputFolder = folder
            let worker = Worker(store: store, options: options)
            var warnings: [String] = []
            worker.onWarning = { warnings.append($0) }
            try FileManager.default.removeItem(atPath: folder)
            let outcome = try await worker.runOne()
            XCTAssertEqual(outcome, .done(id))
            let rows = try await report(location, "SELECT png IS NOT NULL AS kept, output_path FROM outputs")
            XCTAssertEqual(rows, [["1", nil]])
            XCTAssertEqual(warnings.count, 1)
            XCTAssertTrue(warnings.first?.contains("is gone") ?? false)
        }
    }
}
