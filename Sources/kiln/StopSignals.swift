import Dispatch
import Foundation

/// SIGTERM and SIGINT as a gentle stop: the first calls `onFirst` (the command then stops at a
/// safe point), a second one ends the process at once, as the signal would have. Signals are
/// received by a dispatch source, so nothing runs inside a signal handler.
final class StopSignals {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var received = 0

    init(onFirst: @escaping @Sendable (Int32) -> Void) {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue.global())
            source.setEventHandler { [weak self] in self?.receive(sig, onFirst: onFirst) }
            source.resume()
            sources.append(source)
        }
    }

    private func receive(_ sig: Int32, onFirst: @Sendable (Int32) -> Void) {
        lock.lock()
        received += 1
        let count = received
        lock.unlock()
        if count == 1 {
            onFirst(sig)
        } else {
            fflush(stdout)
            signal(sig, SIG_DFL)
            raise(sig)
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
