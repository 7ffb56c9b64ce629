import Dispatch
import Foundation
import PostgresNIO
import Synchronization

/// Runs postgres-nio's async calls for the queue's synchronous protocol: the call runs in a
/// detached task and the calling thread waits on a semaphore. Never on an event-loop thread
/// (it would wait on itself): called there, it fails instead.
///
/// A statement on `connection` is also given up when the connection has been closed for
/// `grace` seconds without the statement failing: a connection the server terminated
/// (`pg_terminate_backend`) can leave postgres-nio's query pending forever, and a worker (or a
/// CI run) would wait with it. The caller sees a lost connection and reconnects.
enum Blocking {
    static func run<T: Sendable>(on connection: PostgresConnection? = nil, grace: Double = 5,
                                 _ operation: @escaping @Sendable () async throws -> T) throws -> T {
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else { throw Misuse() }
        let outcome = Outcome<T>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { outcome.set(.success(try await operation())) } catch { outcome.set(.failure(error)) }
            done.signal()
        }
        var closedSince: Date?
        while done.wait(timeout: .now() + 1) == .timedOut {
            guard let connection, connection.isClosed else { continue }
            let since = closedSince ?? Date()
            closedSince = since
            if Date().timeIntervalSince(since) >= grace { throw ConnectionGone() }
        }
        return try outcome.get()
    }

    /// The connection closed under a statement that never finished.
    struct ConnectionGone: Error, CustomStringConvertible {
        var description: String { "the connection closed while a statement was still waiting for its answer" }
    }

    /// The result handed from the task to the waiting thread.
    final class Outcome<T: Sendable>: Sendable {
        private let result = Mutex<Result<T, Error>?>(nil)
        func set(_ r: Result<T, Error>) { result.withLock { $0 = r } }
        func get() throws -> T {
            guard let result = result.withLock({ $0 }) else { throw Misuse() }
            return try result.get()
        }
    }

    /// A blocking call made where it would deadlock (a programming error, reported as one line).
    struct Misuse: Error, CustomStringConvertible {
        var description: String { "a PostgreSQL queue call was made on an event-loop thread, where it cannot wait" }
    }
}
