import Foundation
import PostgresNIO

/// `Statements` for async callers (the gallery, on the connection pool): one statement per call
/// through the extended query protocol, values bound, never spliced into the SQL.
struct AsyncStatements: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    /// All rows of `query`.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await connection.query(query, logger: logger).collect()
    }

    func execute(_ query: PostgresQuery) async throws { _ = try await rows(query) }

    /// The first row of `query`, if any.
    func first(_ query: PostgresQuery) async throws -> PostgresRow? { try await rows(query).first }

    /// The single value `query` returns (NULL and no row as nil).
    func value<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type = T.self) async throws -> T? {
        guard let cell = try await first(query)?.first, cell.bytes != nil else { return nil }
        return try cell.decode(T.self)
    }

    /// The number `query` returns (e.g. `SELECT count(*) ...`).
    func count(_ query: PostgresQuery) async throws -> Int { try await value(query, as: Int.self) ?? 0 }
}
