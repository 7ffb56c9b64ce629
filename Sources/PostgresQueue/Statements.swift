import Foundation
import PostgresNIO
import RenderQueue

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

    /// `query`'s column names (even for no rows), then its rows made into text (as `kiln report`
    /// prints them), each handed to `row` as it arrives, so large values (PNGs) are never all
    /// held at once; `handed` counts the rows handed on (also when the stream then fails). The
    /// server's first answer is watched as `rows` watches it; the rows after it arrive on a live
    /// stream.
    func stream(_ query: PostgresQuery, header: ([String]) throws -> Void, row: ([String?]) throws -> Void,
                handed: inout Int) async throws {
        let connection = self.connection, logger = self.logger
        let sequence: PostgresRowSequence
        if let grace = watch {
            sequence = try await Deadline.run(seconds: nil, else: ConnectionGone(), closed: { connection.isClosed }, grace: grace) {
                try await connection.query(query, logger: logger)
            }
        } else {
            sequence = try await connection.query(query, logger: logger)
        }
        let columns = Statements.columnNames(sequence)
        var named = !columns.isEmpty
        if named { try header(columns) }
        for try await values in sequence {
            if !named {
                try header(values.map(\.columnName))
                named = true
            }
            handed += 1
            try row(values.map { PostgresText.render($0) })
        }
        if !named { try header(columns) }
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
