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

/// Each queue claims as worker "w<index>", in a child task of its own, until no job is left,
/// handing each job it claims to `take` (which may finish it); the jobs all of them claimed,
/// and the error that stopped each one that failed.
func claimUntilEmpty(_ queues: [any JobQueue], leaseSeconds: Double,
                     take: @escaping @Sendable (any JobQueue, String, ClaimedJob) async throws -> Void = { _, _, _ in })
    async -> (claimed: [Int64], errors: [String]) {
    let results = await withTaskGroup(of: (claimed: [Int64], error: String?).self) { group in
        for (w, queue) in queues.enumerated() {
            group.addTask {
                let name = "w\(w)"
                var mine: [Int64] = []
                do {
                    while let job = try await queue.claim(worker: name, leaseSeconds: leaseSeconds) {
                        try await take(queue, name, job)
                        mine.append(job.jobID)
                    }
                    return (mine, nil)
                } catch {
                    return (mine, "\(name): \(error)")
                }
            }
        }
        var all: [(claimed: [Int64], error: String?)] = []
        for await result in group { all.append(result) }
        return all
    }
    return (results.flatMap { $0.claimed }, results.compactMap { $0.error })
}
