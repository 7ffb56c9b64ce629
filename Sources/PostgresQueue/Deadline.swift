import Synchronization

/// An async call given up after a time: the caller gets `timeout` when `body` has not finished
/// within `seconds` (nil: no limit), without waiting for it (a statement on a connection the server closed may
/// never finish); `body`'s task is cancelled then. With `closed`, the call is also given up
/// (`ConnectionGone`) once `closed()` has been true for `grace` seconds: the
/// connection under it is gone, and the statement may wait for ever. Cancelling the caller
/// cancels `body`.
enum Deadline {
    static func run<T: Sendable>(seconds: Double?, else timeout: any Error,
                                 closed: (@Sendable () -> Bool)? = nil, grace: Double = 1,
                                 _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let outcome = Once<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let work = Task {
                    do { outcome.finish(.success(try await body()), continuation) } catch { outcome.finish(.failure(error), continuation) }
                }
                let clock = Task {
                    let start = ContinuousClock.now
                    let limit = seconds.map { Duration.milliseconds(Int64(($0 * 1000).rounded())) }
                    var watch = closed.map { ClosedFor(grace: grace, isClosed: $0) }
                    while limit.map({ ContinuousClock.now - start < $0 }) ?? true {
                        let nap = limit.map { min(ClosedFor.poll, $0 - (ContinuousClock.now - start)) } ?? ClosedFor.poll
                        if (try? await Task.sleep(for: nap)) == nil { return }
                        if watch?.hasLasted() == true {
                            if outcome.finish(.failure(ConnectionGone()), continuation) { work.cancel() }
                            return
                        }
                    }
                    if outcome.finish(.failure(timeout), continuation) { work.cancel() }
                }
                outcome.hold(work: work, clock: clock)
            }
        } onCancel: {
            outcome.cancel()
        }
    }

    /// The first result wins; the other is dropped. Holds both tasks, to cancel them.
    final class Once<T: Sendable>: Sendable {
        private let state = Mutex<(done: Bool, work: Task<Void, Never>?, clock: Task<Void, Never>?, cancelled: Bool)>((false, nil, nil, false))

        /// Resumes `continuation` unless it was resumed already; true when this call did.
        @discardableResult
        func finish(_ result: Result<T, any Error>, _ continuation: CheckedContinuation<T, any Error>) -> Bool {
            let first = state.withLock { s -> Bool in
                if s.done { return false }
                s.done = true
                return true
            }
            guard first else { return false }
            continuation.resume(with: result)
            state.withLock { $0.clock }?.cancel()
            return true
        }

        /// Keeps both tasks. A call that already finished (its work can win before this runs)
        /// stops its clock here, which would otherwise run on with no limit to stop it.
        func hold(work: Task<Void, Never>, clock: Task<Void, Never>) {
            let (cancelled, done) = state.withLock { s -> (Bool, Bool) in
                s.work = work
                s.clock = clock
                return (s.cancelled, s.done)
            }
            if cancelled { work.cancel() }
            if done { clock.cancel() }
        }

        func cancel() {
            let work = state.withLock { s -> Task<Void, Never>? in
                s.cancelled = true
                return s.work
            }
            work?.cancel()
        }
    }
}

/// The connection closed under a statement that never finished. During a stream (rows already
/// on their way, the reading task cancelled) it is not to be repeated: `PostgresQueueFailure`
/// counts only the other kind as a lost connection.
struct ConnectionGone: Error, CustomStringConvertible {
    var duringStream = false
    var description: String {
        duringStream ? "the connection closed while the rows were still coming; run it again"
            : "the connection closed while a statement was still waiting for its answer"
    }
}

/// The watchdogs' rule (`Deadline`, `StreamWatch`): a connection seen closed, polled every
/// `poll`, for at least `grace` seconds since it was first seen closed is gone.
struct ClosedFor {
    static let poll = Duration.milliseconds(100)
    let grace: Duration
    let isClosed: @Sendable () -> Bool
    private var since: ContinuousClock.Instant?

    init(grace: Double, isClosed: @escaping @Sendable () -> Bool) {
        self.grace = .milliseconds(Int64((grace * 1000).rounded()))
        self.isClosed = isClosed
    }

    /// One poll: true once the connection has been closed for `grace`.
    mutating func hasLasted() -> Bool {
        guard isClosed() else { return false }
        let first = since ?? ContinuousClock.now
        since = first
        return ContinuousClock.now - first >= grace
    }
}
