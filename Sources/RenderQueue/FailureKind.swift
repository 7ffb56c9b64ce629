import Foundation

/// Whether a failed render can succeed when tried again. Stored in `jobs.error_kind` and shown
/// in `v_jobs.error_kind`. RenderWorker sorts errors into these (`FailureKind.of`).
public enum FailureKind: String, Sendable, Equatable {
    /// The same job fails the same way every time (invalid request, missing or corrupt model
    /// file, unreadable input): the job fails at once.
    case permanent
    /// The machine, not the job, was at fault (out of memory, disk full, database busy): the job
    /// is retried after a backoff while its failures stay below `max_attempts`.
    case transient
}

/// A full disk met while storing outputs in the database, as a database reports it; what the
/// worker's test hook (`KILN_TEST_ENOSPC_WRITES`) throws for outputs kept in the database.
public struct DatabaseDiskFull: QueueDatabaseFailure, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var failureKind: FailureKind { .transient }
    public var isDiskFull: Bool { true }
}
