import Foundation
import PostgresNIO
import RenderQueue

/// One connection to the queue's database, shared by every call on a queue object and used by
/// one call at a time (a lock: a worker renews its lease from a timer thread while its main
/// thread checkpoints). Transactions are BEGIN ... COMMIT with ROLLBACK on any error. A
/// connection found closed is replaced before use; one lost during a call is replaced and the
/// call made once more, unless it was committing (then whether it took effect is unknown, and
/// the caller is told, as a transient failure).
final class PostgresSession: @unchecked Sendable, CustomReflectable {
    let location: PostgresLocation
    /// Raised by NOTIFY on `kiln_jobs` once `listenForJobs()` was called.
    let wake = WakeSignal()
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private var listener: PostgresListenContext?
    private var listening = false
    private static let ids = IDCounter()

    /// Connects at once, so a bad URL, password or database fails here in one line.
    init(_ location: PostgresLocation) throws {
        self.location = location
        configuration = try location.connectionConfiguration()
        var logger = Logger(label: "kiln.postgres")
        logger.logLevel = .critical
        self.logger = logger
        lock.lock()
        defer { lock.unlock() }
        _ = try connected()
    }

    /// What `dump` shows: the location, never the connection configuration (it holds the password).
    var customMirror: Mirror { Mirror(self, children: ["location": location]) }

    deinit {
        listener?.stop()
        if let connection { PostgresSession.close(connection) }
    }

    /// Closes without waiting; the closure holds the connection until it is closed, as
    /// postgres-nio requires.
    static func close(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Runs `body` with statements that commit one by one. On a lost connection the body runs
    /// again on a new one, so it must be safe to repeat (reads, idempotent updates).
    func autocommit<T>(_ body: (Statements) throws -> T) throws -> T {
        try withRetry { statements, _ in try body(statements) }
    }

    /// As `autocommit`, for a body that sets `changing` before a statement that must not run
    /// twice: a connection lost from then on is reported instead of repeated.
    func autocommit<T>(_ body: (Statements, _ changing: inout Bool) throws -> T) throws -> T {
        try withRetry(body)
    }

    /// Runs `body` in one transaction (`begin` may add e.g. READ ONLY), committed when it
    /// returns and rolled back when it throws.
    func transaction<T>(_ begin: String = "BEGIN", _ body: (Statements) throws -> T) throws -> T {
        try withRetry { statements, committing in
            try statements.execute(PostgresQuery(unsafeSQL: begin))
            let value: T
            do {
                value = try body(statements)
            } catch {
                if !PostgresQueueFailure.isConnectionLost(error) {
                    do { try statements.execute("ROLLBACK") } catch { closeConnection() }
                }
                throw error
            }
            committing = true
            try statements.execute("COMMIT")
            return value
        }
    }

    /// From now on (and after every reconnect) the connection LISTENs on `kiln_jobs`, and a
    /// notification raises `wake`.
    func listenForJobs() {
        lock.lock()
        defer { lock.unlock() }
        guard !listening else { return }
        listening = true
        if let connection, !connection.isClosed { listen(on: connection) }
    }

    private func listen(on connection: PostgresConnection) {
        let wake = self.wake
        listener?.stop()
        // postgres-nio sends LISTEN itself, queued before any later statement on this connection.
        listener = connection.addListener(channel: "kiln_jobs") { _, _ in wake.raise() }
    }

    private func withRetry<T>(_ body: (Statements, inout Bool) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        var retried = false
        while true {
            let statements = Statements(connection: try connected(), logger: logger)
            var committing = false
            do {
                return try body(statements, &committing)
            } catch {
                guard PostgresQueueFailure.isConnectionLost(error) else { throw PostgresQueueFailure.from(error, at: location) }
                closeConnection()
                if !retried && !committing {
                    retried = true
                    continue
                }
                let when = committing ? " while committing (the change may or may not have been made)" : ""
                throw PostgresQueueFailure("\(location.displayName): the connection to the server was lost\(when); try again", kind: .transient)
            }
        }
    }

    /// The open connection, connecting when there is none. Call with the lock held.
    private func connected() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        closeConnection()
        let configuration = self.configuration, logger = self.logger, id = PostgresSession.ids.next()
        let fresh: PostgresConnection
        do {
            fresh = try Blocking.run { try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger) }
        } catch {
            throw PostgresQueueFailure.from(error, at: location, connecting: true)
        }
        connection = fresh
        if listening { listen(on: fresh) }
        return fresh
    }

    private func closeConnection() {
        listener?.stop()
        listener = nil
        if let connection { PostgresSession.close(connection) }
        connection = nil
    }

    /// Connection ids for postgres-nio's logs.
    final class IDCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
    }
}

/// A flag raised from an event-loop thread (a notification) and awaited by the worker.
final class WakeSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var raised = false

    func raise() { condition.lock(); raised = true; condition.broadcast(); condition.unlock() }
    func clear() { condition.lock(); raised = false; condition.unlock() }

    /// Waits until raised, `deadline` or a stop request (checked every 50 ms); true when it was
    /// raised, which it clears.
    func wait(until deadline: Date, unless stop: StopRequest) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !raised, !stop.isRequested, Date() < deadline {
            _ = condition.wait(until: min(deadline, Date().addingTimeInterval(0.05)))
        }
        defer { raised = false }
        return raised
    }
}
