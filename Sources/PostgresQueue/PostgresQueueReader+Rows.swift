import Foundation
import PostgresNIO
import RenderQueue

extension PostgresQueueReader {
    /// User SQL as `query` runs it (`BEGIN READ ONLY`, `statement_timeout`), each row handed to
    /// `row` as it arrives from the server. The callbacks run on the query's task while the
    /// calling thread waits, one at a time. A connection lost after the first row is reported,
    /// never retried (the rows already handed on would come twice).
    public func forEachRow(sql: String, timeout: Double, header: ([String]) throws -> Void, row: ([String?]) throws -> Void) throws {
        // Said before the server says "syntax error" about a second statement it cannot parse.
        guard SQLScript.statements(sql).count <= 1 else { throw QueueError.query(Report.oneStatement) }
        try forEachRow(PostgresQuery(unsafeSQL: sql), timeout: timeout, header: header, row: row)
    }

    /// `forEachRow` for a query with bound values.
    func forEachRow(_ query: PostgresQuery, timeout: Double, header: ([String]) throws -> Void, row: ([String?]) throws -> Void) throws {
        guard timeout.isFinite, timeout > 0, timeout <= 86_400 else {
            throw QueueError.query("--timeout must be between 0 and 86400 seconds, not \(timeout)")
        }
        let milliseconds = max(1, Int((timeout * 1000).rounded(.up)))
        let name = displayName
        do {
            try withoutActuallyEscaping(header) { header in
                try withoutActuallyEscaping(row) { row in
                    let sink = RowSink(header: header, row: row)
                    defer { sink.close() }
                    try session.transaction("BEGIN READ ONLY") { s in
                        try s.execute(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(milliseconds)"))
                        do {
                            try s.stream(query, into: sink)
                        } catch where sink.rowCount > 0 && PostgresQueueFailure.isConnectionLost(error) {
                            throw PostgresQueueFailure("\(name): the connection to the server was lost after \(sink.rowCount) rows; the report is incomplete, run it again",
                                                       kind: .transient)
                        }
                    }
                }
            }
        } catch let failure as PostgresQueueFailure {
            switch failure.sqlState {
            case "25006": throw QueueError.readOnlyViolation(failure.serverMessage ?? "the statement would modify the database")
            case "57014": throw QueueError.query("stopped after \(timeout) s; narrow the query or raise --timeout")
            case "42601" where failure.serverMessage?.contains("multiple commands") == true: throw QueueError.query(Report.oneStatement)
            case nil: throw failure
            default: throw QueueError.query(failure.serverMessage ?? failure.description)
            }
        }
    }
}

/// The caller's callbacks, handed to the query's task for as long as the caller waits: `close`
/// drops them, so a task that outlives the wait (a connection given up) cannot call them.
final class RowSink: @unchecked Sendable {
    private let lock = NSLock()
    private var header: (([String]) throws -> Void)?
    private var row: (([String?]) throws -> Void)?
    private var headerSent = false
    private var rows = 0

    init(header: @escaping ([String]) throws -> Void, row: @escaping ([String?]) throws -> Void) {
        self.header = header
        self.row = row
    }

    /// The column names, passed on once (before the first row).
    func columns(_ names: [String]) throws {
        lock.lock()
        defer { lock.unlock() }
        guard !headerSent, let header else { return }
        headerSent = true
        try header(names)
    }

    func send(_ values: [String?]) throws {
        lock.lock()
        defer { lock.unlock() }
        guard let row else { throw Blocking.ConnectionGone() }
        rows += 1
        try row(values)
    }

    /// Rows handed on so far (read under the lock: a task given up on may still be sending).
    var rowCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return rows
    }

    func close() {
        lock.lock()
        header = nil
        row = nil
        lock.unlock()
    }
}

extension Statements {
    /// `query`'s rows made into text (as `kiln report` prints them) and sent to `sink` as they
    /// arrive; the column names first, even for no rows.
    func stream(_ query: PostgresQuery, into sink: RowSink) throws {
        let connection = self.connection, logger = self.logger
        try Blocking.run(on: connection) {
            let sequence = try await connection.query(query, logger: logger)
            let columns = Statements.columnNames(sequence)
            var named = !columns.isEmpty
            if named { try sink.columns(columns) }
            for try await row in sequence {
                if !named {
                    try sink.columns(row.map(\.columnName))
                    named = true
                }
                try sink.send(row.map { PostgresText.render($0) })
            }
            try sink.columns(columns)
        }
    }
}
