import Foundation
import PostgresNIO
import RenderQueue

/// Statements on the session's connection, each waited for (see `Blocking`). Every statement
/// goes through the extended query protocol: one statement per call, values bound, never
/// spliced into the SQL.
struct Statements {
    let connection: PostgresConnection
    let logger: Logger

    /// All rows of `query`.
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        let connection = self.connection, logger = self.logger
        return try Blocking.run(on: connection) { try await connection.query(query, logger: logger).collect() }
    }

    func execute(_ query: PostgresQuery) throws { _ = try rows(query) }

    /// The first row of `query`, if any.
    func first(_ query: PostgresQuery) throws -> PostgresRow? { try rows(query).first }

    /// The single value `query` returns (NULL and no row as nil).
    func value<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type = T.self) throws -> T? {
        guard let cell = try first(query)?.first, cell.bytes != nil else { return nil }
        return try cell.decode(T.self)
    }

    /// The number `query` returns (e.g. `SELECT count(*) FROM (... RETURNING 1)`).
    func count(_ query: PostgresQuery) throws -> Int { try value(query, as: Int.self) ?? 0 }

    /// Column names and rows made into text as they arrive, so large values (PNGs) are never
    /// all held at once.
    func table(_ query: PostgresQuery, _ text: @escaping @Sendable (PostgresCell) -> String?) throws -> ReportTable {
        let connection = self.connection, logger = self.logger
        return try Blocking.run(on: connection) {
            let sequence = try await connection.query(query, logger: logger)
            var columns = Statements.columnNames(sequence)
            var rows: [[String?]] = []
            for try await row in sequence {
                if columns.isEmpty { columns = row.map(\.columnName) }
                rows.append(row.map(text))
            }
            return ReportTable(columns: columns, rows: rows)
        }
    }

    /// `sql` (one statement, no parameters) as `kiln report` prints it.
    func table(sql: String) throws -> ReportTable { try table(PostgresQuery(unsafeSQL: sql)) { PostgresText.render($0) } }

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
