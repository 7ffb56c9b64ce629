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

    /// `body` in one transaction on a pooled connection, given up after the reader's deadline.
    func write<T: Sendable>(_ body: @escaping @Sendable (AsyncStatements) async throws -> T) async throws -> T {
        let client = reader.client, logger = reader.logger, location = reader.location, seconds = reader.readSeconds
        do {
            let leased = LeasedConnection()
            return try await Deadline.run(seconds: seconds, else: PostgresQueueFailure(
                "\(location.displayName): the server did not answer within \(Int(seconds)) s; the change may or may not have been made",
                kind: .transient), closed: leased.isClosed) {
                try await client.withTransaction(logger: logger) { connection in
                    leased.hold(connection)
                    return try await body(AsyncStatements(connection: connection, logger: logger))
                }
            }
        } catch {
            throw PostgresQueueFailure.from(PostgresGalleryReader.underlying(error), at: location)
        }
    }
}
