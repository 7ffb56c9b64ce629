import Foundation

/// One line on stderr when the process dies of SIGBUS, which a worker meets when a file it has
/// mapped loses its pages: SQLite's shared-memory file (`queue.db-shm`) truncated under it, or a
/// model file cut short. SQLite maps the -shm with no way to catch this, so the process still
/// dies of the signal (status 135); it just no longer dies without a word.
enum BusErrorNotice {
    /// The line, prepared before any signal so the handler only calls write(2).
    nonisolated(unsafe) static var line: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) static var length = 0

    /// Installs the notice, naming `queue`'s -shm when it is a SQLite file.
    static func install(queue: String) {
        let shm = queue.hasPrefix("postgresql://") ? "" : "the queue's shared-memory file \(queue)-shm was truncated or lost its storage, or "
        let text = "kiln work: bus error (SIGBUS): \(shm)a memory-mapped model file was cut short under the worker; "
            + "its job is taken over from its last checkpoint when a worker starts again (README: Render farm, SQLite's -shm)\n"
        line = strdup(text)
        length = line.map { strlen($0) } ?? 0
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            if let line = BusErrorNotice.line { _ = write(STDERR_FILENO, line, BusErrorNotice.length) }
            // SA_RESETHAND has restored the default action: the faulting access runs again and
            // ends the process with SIGBUS, as before.
        }
        action.sa_flags = Int32(bitPattern: UInt32(SA_RESETHAND))
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, nil)
    }
}
