import Foundation
import Synchronization

/// The host name and process id a worker records with its lease. A worker on the same host
/// takes over a job at once when the process holding it no longer exists.
public struct WorkerIdentity: Sendable, Equatable {
    /// The host name, followed on Linux by the process-id namespace (`render-1 pid:[4026531836]`):
    /// containers that share a host name but not process ids (`--network host`) are different
    /// hosts here, so one never mistakes another's live worker for a dead one.
    public var host: String
    public var pid: Int32

    public init(host: String, pid: Int32) {
        self.host = host
        self.pid = pid
    }

    /// This process on this machine.
    public static var current: WorkerIdentity {
        WorkerIdentity(host: pidNamespace().map { hostName() + " " + $0 } ?? hostName(), pid: getpid())
    }

    /// The process-id namespace, as /proc/self/ns/pid names it (`pid:[4026531836]`), if any.
    static func pidNamespace() -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid"),
              target.hasPrefix("pid:[") else { return nil }
        return target
    }

    /// gethostname(2), without the DNS lookups `ProcessInfo.hostName` may make.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True only when `pid` names no process (kill(pid, 0) fails with ESRCH); a process of
    /// another user (EPERM) still exists.
    public static func processIsGone(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}

/// A request to stop, set by the signal watcher's thread (`StopSignals`) or a test, and read by
/// the worker between steps.
public final class StopRequest: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    /// Asks the worker to stop after its current step.
    public func request() { requested.store(true, ordering: .sequentiallyConsistent) }

    /// Whether a stop was requested.
    public var isRequested: Bool { requested.load(ordering: .sequentiallyConsistent) }

    /// Sleeps up to `seconds` in short naps (suspending, never holding a thread), returning
    /// early when a stop is requested or the task is cancelled.
    public func wait(seconds: Double) async { await wait(until: Date().addingTimeInterval(seconds)) }

    /// Sleeps in naps of at most 50 ms until `deadline`, a stop request, the task's
    /// cancellation, or `done()` (checked between naps).
    public func wait(until deadline: Date, or done: () -> Bool = { false }) async {
        while !done(), !isRequested, !Task.isCancelled, Date() < deadline {
            try? await Task.sleep(for: .milliseconds(Int64(min(0.05, max(deadline.timeIntervalSinceNow, 0)) * 1000) + 1))
        }
    }
}
