import Dispatch
import Foundation
import PostgresNIO

/// Runs postgres-nio's async calls for the queue's synchronous protocol: the call runs in a
/// detached task and the calling thread waits on a semaphore. Never on an event-loop thread
/// (it would wait on itself): called there, it fails instead.
enum Blocking {
    static func run<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else { throw Misuse() }
        let outcome = Outcome<T>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { outcome.set(.success(try await operation())) } catch { outcome.set(.failure(error)) }
            done.signal()
        }
        done.wait()
        return try outcome.get()
    }

    /// The result handed from the task to the waiting thread.
    final class Outcome<T: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var result: Result<T, Error>?
        func set(_ r: Result<T, Error>) { lock.lock(); result = r; lock.unlock() }
        func get() throws -> T {
            lock.lock()
            defer { lock.unlock() }
            guard let result else { throw Misuse() }
            return try result.get()
        }
    }

    /// A blocking call made where it would deadlock (a programming error, reported as one line).
    struct Misuse: Error, CustomStringConvertible {
        var description: String { "a PostgreSQL queue call was made on an event-loop thread, where it cannot wait" }
    }
}
