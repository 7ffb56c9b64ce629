import Foundation
import PostgresNIO
import RenderQueue

extension PostgresQueueReader {
    /// User SQL as `query` runs it (`BEGIN READ ONLY`, `statement_timeout`), each row handed to
    /// `row` as it arrives from the server, on the caller's task. A connection lost after the
    /// first row is reported, never retried (the rows already handed on would come twice); the
    /// column names are handed on once, even when the query is made again.
    public nonisolated(nonsending) func forEachRow(sql: String, timeout: Double, header: ([String]) throws -> Void,
                                                   row: ([String?]) throws -> Void) async throws {
        // Said before the server says "syntax error" about a second statement it cannot parse.
        guard SQLScript.statements(sql).count <= 1 else { throw QueueError.query(Report.oneStatement) }
        try await forEachRow(PostgresQuery(unsafeSQL: sql), timeout: timeout, header: header, row: row)
    }

    /// `forEachRow` for a query with bound values.
    nonisolated(nonsending) func forEachRow(_ query: PostgresQuery, timeout: Double, header: ([String]) throws -> Void,
                                            row: ([String?]) throws -> Void) async throws {
        guard timeout.isFinite, timeout > 0, timeout <= 86_400 else {
            throw QueueError.query("--timeout must be between 0 and 86400 seconds, not \(timeout)")
        }
        let milliseconds = max(1, Int((timeout * 1000).rounded(.up)))
        let name = displayName
        var progress = Statements.StreamProgress()
        do {
            try await session.transaction("BEGIN READ ONLY") { s in
                try await s.execute(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(milliseconds)"))
                let before = progress.rows
                do {
                    try await s.stream(query, header: header, row: row, progress: &progress)
                } catch where progress.rows > before && PostgresQueueFailure.isConnectionLost(error) {
                    throw PostgresQueueFailure("\(name): the connection to the server was lost after \(progress.rows - before) rows; the report is incomplete, run it again",
                                               kind: .transient)
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
