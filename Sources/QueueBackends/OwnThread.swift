import Foundation

/// Blocking work (opening and migrating a PostgreSQL queue through its synchronous session)
/// awaited from async code on a thread of its own: a thread of Swift's cooperative pool never
/// waits on it, and the work's own tasks find the pool free.
enum OwnThread {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = "kiln.open"
            thread.start()
        }
    }
}
