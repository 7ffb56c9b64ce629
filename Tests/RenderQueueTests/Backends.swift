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
}
