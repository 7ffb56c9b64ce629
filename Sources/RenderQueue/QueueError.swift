import Foundation

/// Queue failures, each naming the database or the item and what to do.
public enum QueueError: Error, CustomStringConvertible, Equatable {
    case newerDatabase(path: String, version: Int, known: Int)
    case cannotOpen(path: String, reason: String)
    case notAQueue(path: String)
    case noSuchJob(Int64)
    case invalidSpec(key: String, reason: String)
    case readOnlyViolation(String)
    case query(String)
    case undecodableRequest(String)
    /// A `--db` value that names no database Kiln can use (already free of passwords).
    case badLocation(String)

    public var description: String {
        switch self {
        case let .newerDatabase(path, version, known):
            return "\(path): database schema version \(version) is newer than this kiln knows (\(known)); use a newer kiln"
        case let .cannotOpen(path, reason): return "\(path): cannot open the queue database (\(reason))"
        case let .notAQueue(path):
            return "\(path): an SQLite database without Kiln's queue tables (another program's?); give --db a new file or a kiln queue"
        case let .noSuchJob(id): return "job \(id) does not exist"
        case let .invalidSpec(key, reason): return "sweep spec: '\(key)' \(reason)"
        case let .readOnlyViolation(why): return "report queries are read-only: \(why)"
        case let .query(why): return "query failed: \(why)"
        case let .undecodableRequest(why): return why
        case let .badLocation(why): return why
        }
    }
}
