import Foundation
import RenderQueue

/// A worker's queue waits for a PostgreSQL server that restarts or drops out of reach (see
/// `ServerQueue` and `ServerWait`), bounded by the lease of the job it holds.
extension PostgresJobQueue: ServerQueue {
    public func waitForServer(log: @escaping @Sendable (String) -> Void, unless stop: StopRequest) {
        session.waits.enable(log: log, stop: stop)
    }

    /// Records the lease this worker holds on `job` until `expiry` (seconds since 1970), or that
    /// it holds none (nil): a call waiting for the server gives up when the lease runs out.
    func holding(_ job: Int64, _ expiry: Double?) {
        if let expiry {
            session.waits.hold(job, until: Date(timeIntervalSince1970: expiry))
        } else {
            session.waits.drop(job)
        }
    }
}
