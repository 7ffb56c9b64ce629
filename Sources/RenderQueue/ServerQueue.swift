import Foundation

/// A queue on a database server that can be away for a while (PostgreSQL restarting, a network
/// outage). By default its calls fail when the server is lost; a worker asks it to wait instead.
public protocol ServerQueue: JobQueue {
    /// From now on a call that finds the server gone reconnects with backoff (0.5 s, doubling,
    /// at most 10 s apart) instead of failing: while the queue holds a job, for as long as the
    /// job's lease lasts (lease renewals and checkpoints are skipped meanwhile, so the render goes
    /// on); otherwise until `stop` is requested. `log` gets one line when the server is lost and
    /// one when it is back. Errors that are not about reaching the server still fail at once.
    func waitForServer(log: @escaping @Sendable (String) -> Void, unless stop: StopRequest)
}

/// Thrown by a `ServerQueue` call that stopped waiting for its server: a stop was requested, or
/// the job's lease ran out (the job is then left for another claim).
public struct ServerWaitEnded: Error, CustomStringConvertible, QueueDatabaseFailure, Equatable {
    public enum Reason: Sendable, Equatable { case stopRequested, leaseRanOut }
    public let reason: Reason
    public let description: String
    public var failureKind: FailureKind { .transient }
    public var isDiskFull: Bool { false }

    public init(_ reason: Reason, _ description: String) {
        self.reason = reason
        self.description = description
    }
}
