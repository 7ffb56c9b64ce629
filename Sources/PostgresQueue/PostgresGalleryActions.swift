import Foundation
import PostgresNIO
import RenderQueue

/// The gallery's actions on PostgreSQL, on the reader's connection pool: each one transaction
/// (`withTransaction`) of the statements `PostgresJobQueue` runs for `cancel`, `retry` and
/// `setPaused`, awaited. A change is never made twice: a lost connection is reported (transient),
/// for the user to try again.
public final class PostgresGalleryActions: GalleryActions {
    let reader: PostgresGalleryReader

    /// Actions through `reader`'s pool (which `reader.run()` keeps running). The database must
    /// hold a queue at this kiln's schema: `Queues.openGallery` migrates it first.
    public init(reader: PostgresGalleryReader) { self.reader = reader }

    public func cancel(_ selection: JobSelection) async throws -> Int {
        try await write { s in
            var n = 0
            for query in PostgresJobQueue.cancelQueries(selection) { n += try await s.count(query) }
            return n
        }
    }

    public func retry(_ selection: JobSelection) async throws -> Int {
        let query = PostgresJobQueue.retryQuery(selection, now: Date().timeIntervalSince1970)
        return try await write { s in try await s.count(query) }
    }

    public func setPaused(_ paused: Bool, sweep: Int64?) async throws {
        let query = PostgresJobQueue.pauseQuery(paused, sweep: sweep)
        try await write { s in
            if try await s.rows(query).isEmpty, let sweep { throw PostgresJobQueue.noSweep(sweep) }
        }
    }

    /// `body` in one transaction on the reader's pool (`PostgresGalleryReader.transaction`), never repeated.
    func write<T: Sendable>(_ body: @escaping @Sendable (Statements) async throws -> T) async throws -> T {
        do {
            return try await reader.transaction(ifUnanswered: "the change may or may not have been made", body)
        } catch {
            throw PostgresQueueFailure.from(PostgresGalleryReader.underlying(error), at: reader.location)
        }
    }
}
