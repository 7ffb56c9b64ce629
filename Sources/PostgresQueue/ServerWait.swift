import Foundation
import RenderQueue
import Synchronization

/// How a session waits for a server it lost (`ServerQueue.waitForServer`): off until a worker
/// asks for it; then an outage is retried 0.5 s after it began, doubling to at most 10 s apart,
/// for as long as a job's lease lasts when the queue holds one, else until a stop request. Says
/// one line when the server is lost and one when it is back.
final class ServerWait: Sendable {
    static let firstDelay = 0.5
    static let maxDelay = 10.0

    private struct State {
        var log: (@Sendable (String) -> Void)?
        var stop: StopRequest?
        var leases: [Int64: Date] = [:]
        var lostSince: Date?
        var delay = ServerWait.firstDelay
        var nextTry = Date.distantPast
    }

    private let state = Mutex(State())

    func enable(log: @escaping @Sendable (String) -> Void, stop: StopRequest) {
        state.withLock { s in
            s.log = log
            s.stop = stop
        }
    }

    var isEnabled: Bool { state.withLock { $0.log != nil } }
    var isStopRequested: Bool { state.withLock { $0.stop?.isRequested ?? false } }
    var isOut: Bool { state.withLock { $0.lostSince != nil } }

    /// The job's lease, as far as this worker knows, lasts until `deadline`.
    func hold(_ job: Int64, until deadline: Date) { state.withLock { $0.leases[job] = deadline } }
    /// The job is no longer this worker's (finished, released, failed or lost).
    func drop(_ job: Int64) { state.withLock { $0.leases[job] = nil } }

    /// When the last lease this worker holds runs out; nil when it holds none.
    var leaseDeadline: Date? { state.withLock { $0.leases.values.max() } }

    /// Seconds until the next try may be made (0 or less: now).
    var secondsToNextTry: Double { state.withLock { $0.nextTry.timeIntervalSinceNow } }

    /// A try failed because the server could not be reached: the outage begins (one line) or
    /// the next try moves back.
    func lost(_ failure: Error) {
        let (line, log) = state.withLock { s -> (String?, (@Sendable (String) -> Void)?) in
            let first = s.lostSince == nil
            if first {
                s.lostSince = Date()
                s.delay = ServerWait.firstDelay
            } else {
                s.delay = min(s.delay * 2, ServerWait.maxDelay)
            }
            s.nextTry = Date().addingTimeInterval(s.delay)
            let line = first ? "lost the queue's server (\(failure)); reconnecting, \(ServerWait.firstDelay) s apart at first, "
                + "at most \(Int(ServerWait.maxDelay)) s" : nil
            return (line, s.log)
        }
        if let line, let log { log(line) }
    }

    /// A call got through: an outage is over (one line).
    func reached(database: String) {
        let (line, log) = state.withLock { s -> (String?, (@Sendable (String) -> Void)?) in
            guard let since = s.lostSince else { return (nil, nil) }
            s.lostSince = nil
            s.nextTry = .distantPast
            return (String(format: "the queue's server is back (%@) after %.1f s", database, Date().timeIntervalSince(since)), s.log)
        }
        if let line, let log { log(line) }
    }

    /// After the lease ran out: the jobs are no longer counted as held.
    func dropAll() { state.withLock { $0.leases = [:] } }
}

/// The server could not be reached and a call that does not wait (a lease renewal, a
/// checkpoint) gave up; `failure` says why.
struct ServerAway: Error, CustomStringConvertible {
    let failure: Error
    var description: String { "\(failure)" }
}
