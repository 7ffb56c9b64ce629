import Foundation
import Synchronization

/// SIGTERM and SIGINT as a gentle stop: the first calls `onFirst` (the command then stops at a
/// safe point); a second one ends the process at once, as the signal would have, after giving
/// `beforeExit` (e.g. putting the job back in the queue) at most `exitGrace` seconds.
///
/// A real signal handler counts the signals and, being async-signal-safe, does nothing else but
/// wake a dedicated thread (`sem_post`); that thread calls `onFirst` and, on the second signal,
/// runs `beforeExit` in a task of its own (waiting for it on this thread, at most `exitGrace`),
/// restores the default action and raises the signal again. A third signal ends the process from
/// the handler itself. Seeing a signal never waits for Dispatch's shared queues, which the
/// render's compute threads can keep busy for seconds (a 1536 px VAE decode): a signal is seen
/// however busy the process is. `beforeExit`'s task needs a thread of Swift's pool; should the
/// render keep it from finishing within the grace, the job it would have put back is taken over
/// as a gone worker's (at once by the next claim on this host).
final class StopSignals {
    /// How long the second signal waits for `beforeExit` before ending the process anyway.
    static let exitGrace = 1.0

    /// Installs the handlers; only one `StopSignals` may exist at a time.
    init(onFirst: @escaping @Sendable (Int32) -> Void, beforeExit: (@Sendable () async -> Void)? = nil) {
        SignalState.prepare(onFirst: onFirst, beforeExit: beforeExit)
        for sig in [SIGTERM, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = stopSignalHandler
            sigemptyset(&action.sa_mask)
            sigaddset(&action.sa_mask, SIGTERM)
            sigaddset(&action.sa_mask, SIGINT)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
    }

    deinit {
        signal(SIGTERM, SIG_DFL)
        signal(SIGINT, SIG_DFL)
        SignalState.prepare(onFirst: nil, beforeExit: nil)
    }
}

/// The handler: counts, remembers the signal, wakes the watcher; from the third signal on it
/// ends the process itself. Only async-signal-safe calls (atomics, sem_post, signal, raise).
private let stopSignalHandler: @convention(c) (Int32) -> Void = { sig in
    let count = SignalState.count.add(1, ordering: .sequentiallyConsistent).newValue
    SignalState.last.store(sig, ordering: .sequentiallyConsistent)
    if count >= 3 {
        signal(sig, SIG_DFL)
        raise(sig)
        return
    }
    sem_post(SignalState.semaphore)
}

/// What the handler and the watcher thread share. Everything the handler touches is made before
/// the handler is installed (a global's first use is not async-signal-safe).
private enum SignalState {
    static let count = Atomic<Int>(0)
    static let last = Atomic<Int32>(0)
    // Made once before the handler is installed and never reassigned; sem_post and sem_wait are
    // safe from any thread (and sem_post from a signal handler).
    nonisolated(unsafe) static let semaphore: UnsafeMutablePointer<sem_t> = {
        let s = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
        sem_init(s, 0, 0)
        return s
    }()
    private static let lock = NSLock()
    nonisolated(unsafe) private static var onFirst: (@Sendable (Int32) -> Void)?
    nonisolated(unsafe) private static var beforeExit: (@Sendable () async -> Void)?
    nonisolated(unsafe) private static var watching = false

    /// Sets the callbacks, resets the count and starts the watcher once.
    static func prepare(onFirst: (@Sendable (Int32) -> Void)?, beforeExit: (@Sendable () async -> Void)?) {
        _ = count.load(ordering: .sequentiallyConsistent)
        _ = last.load(ordering: .sequentiallyConsistent)
        _ = semaphore
        lock.lock()
        defer { lock.unlock() }
        self.onFirst = onFirst
        self.beforeExit = beforeExit
        count.store(0, ordering: .sequentiallyConsistent)
        guard !watching else { return }
        watching = true
        let watcher = Thread { watch() }
        watcher.name = "kiln stop signals"
        watcher.start()
    }

    /// The watcher thread: woken once per signal the handler passed on; two signals that came
    /// before it woke count as the second.
    private static func watch() {
        while true {
            while sem_wait(semaphore) != 0 {}  // EINTR
            let seen = count.load(ordering: .sequentiallyConsistent)
            let sig = last.load(ordering: .sequentiallyConsistent)
            lock.lock()
            let first = onFirst, cleanup = beforeExit
            lock.unlock()
            if seen == 1 {
                first?(sig)
            } else if seen >= 2 {
                end(by: sig, after: cleanup)
            }
        }
    }

    /// Runs `cleanup` for at most `StopSignals.exitGrace` seconds, then ends the process by `sig`
    /// with its default action.
    private static func end(by sig: Int32, after cleanup: (@Sendable () async -> Void)?) {
        if let cleanup {
            let done = DispatchSemaphore(value: 0)
            Task.detached { await cleanup(); done.signal() }
            _ = done.wait(timeout: .now() + StopSignals.exitGrace)
        }
        signal(sig, SIG_DFL)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigaddset(&unblocked, sig)
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        raise(sig)
        _exit(128 + sig)
    }
}
