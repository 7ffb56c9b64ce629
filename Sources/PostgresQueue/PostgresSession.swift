import Foundation
import PostgresNIO
import RenderQueue
import Synchronization

/// One connection to the queue's database, shared by every call on a queue object and used by
/// one call at a time, whole (an `AsyncLock`: a worker renews its lease from a task of its own
/// while its render checkpoints). Every call is awaited; nothing waits on a thread.
/// Transactions are BEGIN ... COMMIT with ROLLBACK on any error. A connection found closed is
/// replaced before use; one lost during a call is replaced and the call made once more, unless
/// it was committing (then whether it took effect is unknown, and the caller is told, as a
/// transient failure). Each statement is watched (`Statements.watch`): one whose connection has
/// been closed for 5 s under it is given up as lost. Once a worker asked for it (`waits`), a
/// server that cannot be reached is waited for, with backoff, instead of failing the call. Calls
/// run on their caller's actor (`nonisolated(nonsending)`), where their bodies live.
final class PostgresSession: Sendable, CustomReflectable {
    let location: PostgresLocation
    /// Raised by NOTIFY on `kiln_jobs` once `listenForJobs()` was called.
    let wake = WakeSignal()
    /// Whether and how long calls wait for a lost server, and the leases that bound the wait.
    let waits = ServerWait()
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let lock = AsyncLock()
    /// The connection and its listener; changed only while `lock` is held.
    private let state = Mutex<(connection: PostgresConnection?, listener: PostgresListenContext?, listening: Bool)>((nil, nil, false))
    private static let ids = IDCounter()
    /// Seconds a statement may wait on a connection that has closed under it.
    static let closedGrace = 5.0

    /// Connects at once, so a bad URL, password or database fails here in one line.
    init(_ location: PostgresLocation) async throws {
        self.location = location
        configuration = try location.connectionConfiguration()
        var logger = Logger(label: "kiln.postgres")
        logger.logLevel = .critical
        self.logger = logger
        do {
            _ = try await lock.withLock { try await connected() }
        } catch let away as ServerAway {
            throw away.failure
        }
    }

    /// What `dump` shows: the location, never the connection configuration (it holds the password).
    var customMirror: Mirror { Mirror(self, children: ["location": location]) }

    deinit {
        let (connection, listener) = state.withLock { ($0.connection, $0.listener) }
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
    nonisolated(nonsending) func autocommit<T>(patience: Patience = .wait, _ body: (Statements) async throws -> T) async throws -> T {
        try await withRetry(patience) { statements, _ in try await body(statements) }
    }

    /// As `autocommit`, for a body that sets `changing` before a statement that must not run
    /// twice: a connection lost from then on is reported instead of repeated.
    nonisolated(nonsending) func autocommit<T>(patience: Patience = .wait, _ body: (Statements, _ changing: inout Bool) async throws -> T) async throws -> T {
        try await withRetry(patience, body)
    }

    /// Runs `body` in one transaction (`begin` may add e.g. READ ONLY), committed when it
    /// returns and rolled back when it throws.
    nonisolated(nonsending) func transaction<T>(_ begin: String = "BEGIN", patience: Patience = .wait,
                        _ body: (Statements) async throws -> T) async throws -> T {
        try await withRetry(patience) { statements, committing in
            try await statements.execute(PostgresQuery(unsafeSQL: begin))
            let value: T
            do {
                value = try await body(statements)
            } catch {
                if !PostgresQueueFailure.isConnectionLost(error) {
                    do { try await statements.execute("ROLLBACK") } catch { closeConnection() }
                }
                throw error
            }
            committing = true
            try await statements.execute("COMMIT")
            return value
        }
    }

    /// From now on (and after every reconnect) the connection LISTENs on `kiln_jobs`, and a
    /// notification raises `wake`.
    func listenForJobs() async {
        await lock.withLock {
            let connection = state.withLock { s -> PostgresConnection? in
                guard !s.listening else { return nil }
                s.listening = true
                return s.connection
            }
            if let connection, !connection.isClosed { listen(on: connection) }
        }
    }

    /// Call with the lock held.
    private func listen(on connection: PostgresConnection) {
        let wake = self.wake
        // postgres-nio sends LISTEN itself, queued before any later statement on this connection.
        let listener = connection.addListener(channel: "kiln_jobs") { _, _ in wake.raise() }
        state.withLock { s in
            s.listener?.stop()
            s.listener = listener
        }
    }

    private nonisolated(nonsending) func withRetry<T>(_ patience: Patience, _ body: (Statements, inout Bool) async throws -> T) async throws -> T {
        try await lock.withLock {
            var retried = false
            while true {
                if waits.isEnabled, waits.isOut { try await awaitNextTry(patience) }
                var committing = false
                let failure: Error
                do {
                    let statements = Statements(connection: try await connected(), logger: logger, watch: PostgresSession.closedGrace)
                    let value = try await body(statements, &committing)
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
    }

    /// Waits, during an outage, until the next try is due: gives up when the jobs' lease has run
    /// out or a stop was requested (`ServerWaitEnded`), or at once with `skip` (`ServerAway`).
    private func awaitNextTry(_ patience: Patience) async throws {
        while true {
            let wait = waits.secondsToNextTry
            if wait <= 0 { return }
            if let deadline = waits.leaseDeadline, Date() >= deadline {
                waits.dropAll()
                throw ServerWaitEnded(.leaseRanOut, "\(location.displayName): the server was still away when the job's lease ran out; the job is left for the next claim")
            }
            if waits.isStopRequested || Task.isCancelled {
                throw ServerWaitEnded(.stopRequested, "\(location.displayName): stopped while waiting for the server; a job in hand is left under its lease for the next claim")
            }
            if patience == .skip { throw ServerAway(failure: PostgresQueueFailure("\(location.displayName): the server is away", kind: .transient)) }
            let until = min(wait, waits.leaseDeadline.map { max($0.timeIntervalSinceNow, 0.001) } ?? wait)
            try? await Task.sleep(for: .milliseconds(Int64(min(0.05, until) * 1000) + 1))
        }
    }

    /// The open connection, connecting when there is none; `ServerAway` when the server cannot be
    /// reached, another failure (a password, a database) as it is. Call with the lock held.
    private func connected() async throws -> PostgresConnection {
        if let connection = state.withLock({ $0.connection }), !connection.isClosed { return connection }
        closeConnection()
        let fresh: PostgresConnection
        do {
            fresh = try await PostgresConnection.connect(configuration: configuration, id: PostgresSession.ids.next(), logger: logger)
        } catch {
            let failure = PostgresQueueFailure.from(error, at: location, connecting: true)
            if PostgresQueueFailure.isConnectionLost(error) { throw ServerAway(failure: failure) }
            throw failure
        }
        let listening = state.withLock { s in
            s.connection = fresh
            return s.listening
        }
        if listening { listen(on: fresh) }
        return fresh
    }

    /// Call with the lock held.
    private func closeConnection() {
        let (connection, listener) = state.withLock { s in
            defer {
                s.connection = nil
                s.listener = nil
            }
            return (s.connection, s.listener)
        }
        listener?.stop()
        if let connection { PostgresSession.close(connection) }
    }

    /// Connection ids for postgres-nio's logs.
    final class IDCounter: Sendable {
        private let value = Atomic<Int>(0)
        func next() -> Int { value.add(1, ordering: .relaxed).newValue }
    }
}

/// A flag raised from an event-loop thread (a notification) and awaited by the worker.
final class WakeSignal: Sendable {
    private let raised = Atomic<Bool>(false)

    func raise() { raised.store(true, ordering: .sequentiallyConsistent) }
    func clear() { raised.store(false, ordering: .sequentiallyConsistent) }

    /// Waits until raised, `deadline` or a stop request (`StopRequest.wait`'s naps); true when
    /// it was raised, which it clears.
    func wait(until deadline: Date, unless stop: StopRequest) async -> Bool {
        await stop.wait(until: deadline) { raised.load(ordering: .sequentiallyConsistent) }
        return raised.exchange(false, ordering: .sequentiallyConsistent)
    }
}
