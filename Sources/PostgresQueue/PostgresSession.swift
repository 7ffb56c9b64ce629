import Foundation
import PostgresNIO
import RenderQueue
import Synchronization

/// One connection to the queue's database, shared by every call on a queue object and used by
/// one call at a time (a lock: a worker renews its lease from a timer thread while its main
/// thread checkpoints). Transactions are BEGIN ... COMMIT with ROLLBACK on any error. A
/// connection found closed is replaced before use; one lost during a call is replaced and the
/// call made once more, unless it was committing (then whether it took effect is unknown, and
/// the caller is told, as a transient failure). Once a worker asked for it (`waits`), a server
/// that cannot be reached is waited for, with backoff, instead of failing the call.
final class PostgresSession: @unchecked Sendable, CustomReflectable {
    let location: PostgresLocation
    /// Raised by NOTIFY on `kiln_jobs` once `listenForJobs()` was called.
    let wake = WakeSignal()
    /// Whether and how long calls wait for a lost server, and the leases that bound the wait.
    let waits = ServerWait()
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
        do {
            _ = try connected()
        } catch let away as ServerAway {
            throw away.failure
        }
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

    /// How a call meets a server that cannot be reached while `waits` is enabled: `wait` waits
    /// (for the lease, or until a stop request); `skip` makes one try when one is due and
    /// otherwise throws `ServerAway` at once, for calls whose next turn comes soon anyway
    /// (lease renewals, checkpoints).
    enum Patience { case wait, skip }

    /// Runs `body` with statements that commit one by one. On a lost connection the body runs
    /// again on a new one, so it must be safe to repeat (reads, idempotent updates).
    func autocommit<T>(patience: Patience = .wait, _ body: (Statements) throws -> T) throws -> T {
        try withRetry(patience) { statements, _ in try body(statements) }
    }

    /// As `autocommit`, for a body that sets `changing` before a statement that must not run
    /// twice: a connection lost from then on is reported instead of repeated.
    func autocommit<T>(patience: Patience = .wait, _ body: (Statements, _ changing: inout Bool) throws -> T) throws -> T {
        try withRetry(patience, body)
    }

    /// Runs `body` in one transaction (`begin` may add e.g. READ ONLY), committed when it
    /// returns and rolled back when it throws.
    func transaction<T>(_ begin: String = "BEGIN", patience: Patience = .wait, _ body: (Statements) throws -> T) throws -> T {
        try withRetry(patience) { statements, committing in
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

    private func withRetry<T>(_ patience: Patience, _ body: (Statements, inout Bool) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        var retried = false
        while true {
            if waits.isEnabled, waits.isOut { try awaitNextTry(patience) }
            var committing = false
            let failure: Error
            do {
                let statements = Statements(connection: try connected(), logger: logger)
                let value = try body(statements, &committing)
                waits.reached(database: location.displayName)
                return value
            } catch let away as ServerAway {
                failure = away.failure
            } catch {
                guard PostgresQueueFailure.isConnectionLost(error) else { throw PostgresQueueFailure.from(error, at: location) }
                closeConnection()
                if committing {
                    var uncertain = PostgresQueueFailure("\(location.displayName): the connection to the server was lost while committing (the change may or may not have been made); try again", kind: .transient)
                    uncertain.mayHaveCommitted = true
                    throw uncertain
                }
                if !retried && !waits.isOut {
                    // A connection the server closed (a terminated backend) on a server that is up.
                    retried = true
                    continue
                }
                failure = PostgresQueueFailure("\(location.displayName): the connection to the server was lost; try again", kind: .transient)
            }
            guard waits.isEnabled else { throw failure }
            waits.lost(failure)
        }
    }

    /// Waits, during an outage, until the next try is due: gives up when the jobs' lease has run
    /// out or a stop was requested (`ServerWaitEnded`), or at once with `skip` (`ServerAway`).
    private func awaitNextTry(_ patience: Patience) throws {
        while true {
            let wait = waits.secondsToNextTry
            if wait <= 0 { return }
            if let deadline = waits.leaseDeadline, Date() >= deadline {
                waits.dropAll()
                throw ServerWaitEnded(.leaseRanOut, "\(location.displayName): the server was still away when the job's lease ran out; the job is left for the next claim")
            }
            if waits.isStopRequested {
                throw ServerWaitEnded(.stopRequested, "\(location.displayName): stopped while waiting for the server; a job in hand is left under its lease for the next claim")
            }
            if patience == .skip { throw ServerAway(failure: PostgresQueueFailure("\(location.displayName): the server is away", kind: .transient)) }
            let until = min(wait, waits.leaseDeadline.map { max($0.timeIntervalSinceNow, 0.001) } ?? wait)
            Thread.sleep(forTimeInterval: min(0.05, until))
        }
    }

    /// The open connection, connecting when there is none; `ServerAway` when the server cannot be
    /// reached, another failure (a password, a database) as it is. Call with the lock held.
    private func connected() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        closeConnection()
        let configuration = self.configuration, logger = self.logger, id = PostgresSession.ids.next()
        let fresh: PostgresConnection
        do {
            fresh = try Blocking.run { try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger) }
        } catch {
            let failure = PostgresQueueFailure.from(error, at: location, connecting: true)
            if PostgresQueueFailure.isConnectionLost(error) { throw ServerAway(failure: failure) }
            throw failure
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
    final class IDCounter: Sendable {
        private let value = Atomic<Int>(0)
        func next() -> Int { value.add(1, ordering: .relaxed).newValue }
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
