import Foundation
import PostgresQueue
import RenderQueue
import SQLiteQueue

/// Opens the queue a `--db` value names: a `postgresql://` (or `postgres://`) URL is a PostgreSQL
/// database, anything else a SQLite file. Commands call this and see only `JobQueue` and
/// `QueueReader`; `KILN_DB` stands in when `--db` is absent, as `PGDATABASE` does for psql.
public enum Queues {
    /// Where a queue lives.
    public enum Location: Equatable, Sendable {
        case sqlite(path: String)
        case postgresql(url: String)
    }

    /// The location named by `db`, else by the environment's `KILN_DB`.
    public static func location(_ db: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Location {
        guard let value = db ?? environment["KILN_DB"], !value.isEmpty else {
            throw QueueError.badLocation("no queue database: give --db FILE or --db postgresql://user@host:port/dbname, or set KILN_DB")
        }
        let lower = value.lowercased()
        if lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://") { return .postgresql(url: value) }
        if let scheme = lower.range(of: "://"), !lower[..<scheme.lowerBound].contains("/") {
            let name = String(value[..<scheme.lowerBound])
            throw QueueError.badLocation("--db: '\(name)://' is not a database Kiln can use; give a SQLite file path or a postgresql:// URL")
        }
        return .sqlite(path: value)
    }

    /// A queue to write to, migrated when needed. Only `create` (enqueue, sweep) makes a new
    /// queue: otherwise a missing or empty SQLite file, or a PostgreSQL database without Kiln's
    /// tables, is refused (a mistyped `--db` for `work` or `pause` must not make an empty queue).
    public static func open(_ db: String?, create: Bool = true) async throws -> any JobQueue {
        switch try location(db) {
        case .sqlite(let path):
            if !create { try QueueDatabase.checkExists(path: path) }
            return try SQLiteJobQueue(path: path)
        case .postgresql(let url): return try await PostgresJobQueue(url: url, create: create)
        }
    }

    /// An existing queue opened for the gallery's async reads: never created, never migrated.
    /// On PostgreSQL the reader must `run()` (its connection pool) while it is used.
    public static func openGalleryReader(_ db: String?) async throws -> any GalleryReader {
        switch try location(db) {
        case .sqlite(let path): return try SQLiteQueueReader(path: path)
        case .postgresql(let url): return try await PostgresGalleryReader.open(url: url)
        }
    }

    /// The gallery's reader of `db` and, with `actions`, its actions. Actions open the queue for
    /// writing first, as `open(db, create: true)` does (creating or migrating it); on PostgreSQL
    /// the actions then share the reader's connection pool.
    public static func openGallery(_ db: String?, actions: Bool) async throws -> (reader: any GalleryReader, actions: (any GalleryActions)?) {
        switch try location(db) {
        case .sqlite(let path):
            let writer = actions ? try SQLiteJobQueue(path: path) : nil
            return (try SQLiteQueueReader(path: path), writer)
        case .postgresql(let url):
            if actions { _ = try await PostgresJobQueue(url: url, create: true) }
            let reader = try await PostgresGalleryReader.open(url: url)
            return (reader, actions ? PostgresGalleryActions(reader: reader) : nil)
        }
    }

    /// `body` with the gallery's reader of `db`, running for as long as `body` takes.
    public static func withGalleryReader<T>(_ db: String?, isolation: isolated (any Actor)? = #isolation,
                                            _ body: (any GalleryReader) async throws -> T) async throws -> T {
        let reader = try await openGalleryReader(db)
        return try await reader.whileRunning { try await body(reader) }
    }

    /// An existing queue opened for reading only: never created, never migrated.
    public static func openReader(_ db: String?) async throws -> any QueueReader {
        switch try location(db) {
        case .sqlite(let path): return try SQLiteQueueReader(path: path)
        case .postgresql(let url): return try await PostgresQueueReader(url: url)
        }
    }
}
