import Synchronization

/// A lock held across awaits: the queue's one connection is used by one call at a time, whole
/// (a transaction's statements must not interleave with a lease renewal's), and a waiting call
/// suspends instead of holding a thread. Waiters are served in arrival order.
final class AsyncLock: Sendable {
    private let state = Mutex<(held: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// `body` while holding the lock; released when it returns or throws.
    nonisolated(nonsending) func withLock<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if !s.held {
                    s.held = true
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.held = false
                return nil
            }
            return s.waiters.removeFirst()  // the lock passes to it, still held
        }
        next?.resume()
    }
}
