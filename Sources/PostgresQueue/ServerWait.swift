import Foundation
import RenderQueue

/// How a session waits for a server it lost (`ServerQueue.waitForServer`): off until a worker
/// asks for it; then an outage is retried 0.5 s after it began, doubling to at most 10 s apart,
/// for as long as a job's lease lasts when the queue holds one, else until a stop request. Says
/// one line when the server is lost and one when it is back.
final class ServerWait: @unchecked Sendable {
    static let firstDelay = 0.5
    static let maxDelay = 10.0

    private let lock = NSLock()
    private var log: (@Sendable (String) -> Void)?
    private var stop: StopRequest?
    private var leases: [Int64: Date] = [:]
    private var lostSince: Date?
    private var delay = firstDelay
    private var nextTry = Date.distantPast

    func enable(log: @escaping @Sendable (String) -> Void, stop: StopRequest) {
        lock.lock()
        defer { lock.unlock() }
        self.log = log
        self.stop = stop
    }

    var isEnabled: Bool { locked { log != nil } }
    var isStopRequested: Bool { locked { stop?.isRequested ?? false } }
    var isOut: Bool { locked { lostSince != nil } }

    /// The job's lease, as far as this worker knows, lasts until `deadline`.
    func hold(_ job: Int64, until deadline: Date) { locked { leases[job] = deadline } }
    /// The job is no longer this worker's (finished, released, failed or lost).
    func drop(_ job: Int64) { locked { leases[job] = nil } }

    /// When the last lease this worker holds runs out; nil when it holds none.
    var leaseDeadline: Date? { locked { leases.values.max() } }

    /// Seconds until the next try may be made (0 or less: now).
    var secondsToNextTry: Double { locked { nextTry.timeIntervalSinceNow } }

    /// A try failed because the server could not be reached: the outage begins (one line) or
    /// the next try moves back.
    func lost(_ failure: Error) {
        let line: String? = locked {
            let first = lostSince == nil
            if first {
                lostSince = Date()
                delay = ServerWait.firstDelay
            } else {
                delay = min(delay * 2, ServerWait.maxDelay)
            }
            nextTry = Date().addingTimeInterval(delay)
            return first ? "lost the queue's server (\(failure)); reconnecting, \(ServerWait.firstDelay) s apart at first, "
                + "at most \(Int(ServerWait.maxDelay)) s" : nil
        }
        if let line, let log = locked({ log }) { log(line) }
    }

    /// A call got through: an outage is over (one line).
    func reached(database: String) {
        let line: String? = locked {
            guard let since = lostSince else { return nil }
            lostSince = nil
            nextTry = .distantPast
            return String(format: "the queue's server is back (%@) after %.1f s", database, Date().timeIntervalSince(since))
        }
        if let line, let log = locked({ log }) { log(line) }
    }

    /// After the lease ran out: the jobs are no longer counted as held.
    func dropAll() { locked { leases = [:] } }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}

/// The server could not be reached and a call that does not wait (a lease renewal, a
/// checkpoint) gave up; `failure` says why.
struct ServerAway: Error, CustomStringConvertible {
    let failure: Error
    var description: String { "\(failure)" }
}
