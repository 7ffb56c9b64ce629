import Foundation
import RenderQueue
import Synchronization

/// What the worker knows of its lease on the job it renders: the renewal timer and every saved
/// checkpoint confirm it; a renewal the database refuses means another worker has the job.
final class LeaseWatch: Sendable {
    private let state = Mutex<(confirmed: Date, refused: Bool)>((Date(), false))
    let seconds: Double

    init(seconds: Double) { self.seconds = seconds }

    /// The outcome of a renewal: true extends the lease, false means it is lost.
    func renewed(_ ok: Bool) {
        state.withLock { s in
            if ok { s.confirmed = Date() } else { s.refused = true }
        }
    }

    var isLost: Bool { state.withLock { $0.refused } }

    /// Seconds until the lease runs out if no renewal gets through (0 once it has).
    var secondsLeft: Double { max(seconds - Date().timeIntervalSince(state.withLock { $0.confirmed }), 0) }
}

/// Why the worker stopped waiting for space to write something.
enum FullDiskHoldEnded: Error {
    /// A stop was requested while waiting; the text is the full-disk error.
    case stopRequested(String)
    /// The database says the job is no longer this worker's.
    case leaseLost
    /// No renewal got through for a whole lease: the job is left to be claimed again.
    case leaseRanOut(String)
}

extension Worker {
    /// Runs `write` until it succeeds, waiting out a full disk (`FailureKind.isDiskFull`): the
    /// pause starts at `retryBackoff` (at least 0.05 s), doubles after each try and stays below
    /// `fullDiskBackoffCap`; the first failure is told through `onWarning` in one line, the
    /// others are not. Other errors are thrown as they are. With a `lease`, gives up when it is
    /// lost or has run out; always gives up when a stop is requested.
    func holdingForSpace<T>(_ what: String, lease: LeaseWatch?, _ write: () async throws -> T) async throws -> T {
        var delay = max(options.retryBackoff, 0.05)
        let cap = max(options.fullDiskBackoffCap, delay)
        var told = false
        while true {
            let message: String
            do {
                return try await write()
            } catch where FailureKind.isDiskFull(error) {
                message = OneLine.describing(error)
            }
            if let lease {
                if lease.isLost { throw FullDiskHoldEnded.leaseLost }
                if lease.secondsLeft <= 0 { throw FullDiskHoldEnded.leaseRanOut(message) }
            }
            if !told {
                told = true
                onWarning?("\(what): the disk is full (\(message)); waiting for space and trying again, "
                           + String(format: "%g s apart at first, at most %g s", delay, cap) + ", without using an attempt")
            }
            await stop.wait(seconds: min(delay, lease.map { $0.secondsLeft } ?? delay))
            if stop.isRequested { throw FullDiskHoldEnded.stopRequested(message) }
            delay = min(delay * 2, cap)
        }
    }

    /// The outcome for a job whose hold for space ended: lost, left under its lease for the next
    /// claim, or put back in the queue after a stop request.
    func outcome(_ ended: FullDiskHoldEnded, job: Int64, step: Int, steps: Int) async throws -> Outcome {
        switch ended {
        case .leaseLost: return .leaseLost(job)
        case .leaseRanOut(let why): return .leftRunning(job, "no lease renewal got through for \(Int(options.leaseSeconds)) s: \(why)")
        case .stopRequested: return try await releaseAfterStop(job, step: step, steps: steps)
        }
    }

    /// Puts the job back in the queue after a stop request, with its last checkpoint. A full
    /// database leaves it running under its lease instead, for another worker to take over (at
    /// once on this host once this process is gone, elsewhere when the lease expires).
    func releaseAfterStop(_ job: Int64, step: Int, steps: Int) async throws -> Outcome {
        do {
            guard try await store.release(jobID: job, worker: options.name) else { return .leaseLost(job) }
            return .released(job, step: step, steps: steps)
        } catch where FailureKind.isDiskFull(error) {
            return .leftRunning(job, "stop requested while the disk is full: " + OneLine.describing(error))
        }
    }
}
