import Foundation
import KilnTestSupport
import QueueBackends
import RenderQueue

extension QueueTestCase {
    /// A fresh queue of the current backend, opened for writing.
    func openQueue(_ name: String = "q") async throws -> (store: any JobQueue, location: String) {
        let location = try queue(name)
        return (try await Queues.open(location), location)
    }

    /// Report rows of `sql` on `location`, read-only.
    func report(_ location: String, _ sql: String) async throws -> [[String?]] {
        try await Queues.openReader(location).query(sql, timeout: 60).rows
    }

    /// The last preview stored for job `id`, read as the gallery reads it.
    func storedPreview(_ location: String, job id: Int64) async throws -> JobPreview? {
        try await Queues.withGalleryReader(location) { try await $0.jobPreview(id) }
    }
}
