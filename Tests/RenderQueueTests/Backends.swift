import Foundation
import KilnTestSupport
import QueueBackends
import RenderQueue

extension QueueTestCase {
    /// A fresh queue of the current backend, opened for writing.
    func openQueue(_ name: String = "q") throws -> (store: any JobQueue, location: String) {
        let location = try queue(name)
        return (try Queues.open(location), location)
    }

    /// Report rows of `sql` on `location`, read-only.
    func report(_ location: String, _ sql: String) throws -> [[String?]] {
        try Queues.openReader(location).query(sql, timeout: 60).rows
    }

    /// The last preview stored for job `id`, read as the gallery reads it (from a synchronous test).
    func storedPreview(_ location: String, job id: Int64) throws -> JobPreview? {
        try awaitFromSync { try await Queues.withGalleryReader(location) { try await $0.jobPreview(id) } }
    }
}
