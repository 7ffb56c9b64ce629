import Foundation
import GRDB
import RenderQueue

/// The gallery's actions on a SQLite queue, each awaited on GRDB's async write (the statements
/// `SQLiteJobQueue` runs for `cancel`, `retry` and `setPaused`).
public final class SQLiteGalleryActions: GalleryActions {
    let pool: DatabasePool

    /// Opens the queue for writing, as `SQLiteJobQueue(path:)` does (a new file is created and
    /// every file migrated).
    public init(path: String) throws {
        pool = try QueueDatabase(path: path).pool
    }

    public func cancel(_ selection: JobSelection) async throws -> Int {
        try await pool.write { try SQLiteJobQueue.cancel(selection, $0) }
    }

    public func retry(_ selection: JobSelection) async throws -> Int {
        let now = Date().timeIntervalSince1970
        return try await pool.write { try SQLiteJobQueue.retry(selection, now: now, $0) }
    }

    public func setPaused(_ paused: Bool, sweep: Int64?) async throws {
        try await pool.write { try SQLiteJobQueue.setPaused(paused, sweep: sweep, $0) }
    }
}
