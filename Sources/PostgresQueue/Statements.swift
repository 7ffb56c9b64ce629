import Foundation
import PostgresNIO
import RenderQueue
import Synchronization

/// Statements on one connection, awaited: one statement per call through the extended query
/// protocol, values bound, never spliced into the SQL. With `watch`, each statement is given up
/// (`ConnectionGone`) once its connection has been closed that many seconds under it: a
/// connection the server terminated (`pg_terminate_backend`) can leave postgres-nio's query
/// pending for ever, and a worker (or a CI run) would wait with it. The caller then sees a lost
/// connection and reconnects.
struct Statements: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    var watch: Double?

    init(connection: PostgresConnection, logger: Logger, watch: Double? = nil) {
        self.connection = connection
        self.logger = logger
        self.watch = watch
    }

    /// All rows of `query`.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let connection = self.connection, logger = self.logger
        guard let grace = watch else { return try await connection.query(query, logger: logger).collect() }
        return try await Deadline.run(seconds: nil, else: ConnectionGone(), closed: { connection.isClosed }, grace: grace) {
            try await connection.query(query, logger: logger).collect()
        }
    }

    func execute(_ query: PostgresQuery) async throws { _ = try await rows(query) }

    /// The first row of `query`, if any.
    func first(_ query: PostgresQuery) async throws -> PostgresRow? { try await rows(query).first }

    /// The single value `query` returns (NULL and no row as nil).
    func value<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type = T.self) async throws -> T? {
        guard let cell = try await first(query)?.first, cell.bytes != nil else { return nil }
        return try cell.decode(T.self)
    }

    /// The number `query` returns (e.g. `SELECT count(*) FROM (... RETURNING 1)`).
    func count(_ query: PostgresQuery) async throws -> Int { try await value(query, as: Int.self) ?? 0 }

    /// How far a streamed query got: the column names handed on (once, even when the query is
    /// made again after a lost connection) and the rows handed on so far.
    struct StreamProgress {
        var headerSent = false
        var rows = 0

        /// Hands `names` to `header` unless the names went out already.
        mutating func send(_ names: @autoclosure () -> [String], to header: ([String]) throws -> Void) rethrows {
            guard !headerSent else { return }
            headerSent = true
            try header(names())
        }
    }

    /// `query`'s column names (even for no rows), then its rows made into text (as `kiln report`
    /// prints them), each handed to `row` as it arrives, so large values (PNGs) are never all
    /// held at once; `progress` says how far it got (also when the stream then fails). With
    /// `watch`, the whole stream is watched: once the connection has been closed that long under
    /// it, the calling task is cancelled (a stream left pending would never end) and the read
    /// fails as transient, not to be repeated (`ConnectionGone` with `duringStream`).
    nonisolated(nonsending) func stream(_ query: PostgresQuery, header: ([String]) throws -> Void, row: ([String?]) throws -> Void,
                                        progress: inout StreamProgress) async throws {
        let connection = self.connection, logger = self.logger
        let watcher = watch.map { grace in StreamWatch(connection: connection, grace: grace) }
        let streamed: Result<Void, any Error>
        do {
            let sequence = try await connection.query(query, logger: logger)
            let columns = Statements.columnNames(sequence)
            if !columns.isEmpty { try progress.send(columns, to: header) }
            for try await values in sequence {
                try progress.send(values.map(\.columnName), to: header)
                progress.rows += 1
                try row(values.map { PostgresText.render($0) })
            }
            try progress.send(columns, to: header)
            streamed = .success(())
        } catch {
            streamed = .failure(error)
        }
        if let watcher, await watcher.finish() { throw ConnectionGone(duringStream: true) }
        try streamed.get()
    }

    /// The result's column names even when it has no rows. postgres-nio keeps them in the
    /// sequence without a public accessor, so they are read by reflection; should that ever
    /// fail, the names come from the first row (none for an empty result).
    static func columnNames(_ sequence: PostgresRowSequence) -> [String] {
        guard let columns = Mirror(reflecting: sequence).children.first(where: { $0.label == "_columns" })?.value as? [Any] else {
            return []
        }
        let names = columns.compactMap { column in
            Mirror(reflecting: column).children.first(where: { $0.label == "name" })?.value as? String
        }
        return names.count == columns.count ? names : []
    }
}

/// The watch on a streamed query (`Statements.stream`): a task that cancels the streaming task
/// once the connection has been closed for `grace` seconds. The streaming task's handle is only
/// used while that task waits in `stream`, which awaits this watch's end before it returns.
final class StreamWatch: Sendable {
    /// Set when the watch cancelled the streaming task.
    final class Fired: Sendable {
        let value = Atomic<Bool>(false)
    }

    private let fired = Fired()
    private let task: Task<Void, Never>?

    init(connection: PostgresConnection, grace: Double) {
        let fired = fired
        // The streaming task's handle leaves `withUnsafeCurrentTask` only for this watch, which
        // `stream` awaits (`finish`) before it returns: the handle never outlives its task.
        guard let streaming = withUnsafeCurrentTask(body: { $0 }) else {
            task = nil
            return
        }
        task = Task.detached {
            var watch = ClosedFor(grace: grace) { connection.isClosed }
            while (try? await Task.sleep(for: ClosedFor.poll)) != nil {
                if watch.hasLasted() {
                    fired.value.store(true, ordering: .sequentiallyConsistent)
                    streaming.cancel()
                    return
                }
            }
        }
    }

    /// Stops the watch and waits for it to end; true when it fired.
    func finish() async -> Bool {
        task?.cancel()
        await task?.value
        return fired.value.load(ordering: .sequentiallyConsistent)
    }
}
