import Foundation
import PostgresNIO

/// The public views (`v_jobs`, `v_outputs`), defined once in Migrations/postgresql/views.sql and
/// made after the numbered migrations, which hold only tables from 0006 on. PostgreSQL keeps no
/// view's source text, so each view's comment records the SHA-256 of the views.sql it came from.
enum PostgresViews {
    /// Migrations up to this version create and replace the views themselves (released files);
    /// before a later one runs, the views are dropped, so a table change never trips over them.
    static let lastVersionWithViews = 5

    /// The statements of views.sql.
    static let statements = SQLScript.statements(EmbeddedMigrations.views)

    /// The names of the views views.sql creates (`CREATE VIEW name AS`).
    static let names: [String] = statements.compactMap { statement in
        let words = statement.split(whereSeparator: \.isWhitespace)
        guard let at = words.indices.first(where: { words[$0].uppercased() == "VIEW" && $0 > 0 && words[$0 - 1].uppercased() == "CREATE" }),
              at + 1 < words.count else { return nil }
        return String(words[at + 1])
    }

    /// The comment each view carries: which text made it.
    static func marker(_ s: Statements) async throws -> String {
        let hash = try await s.value("SELECT encode(sha256(convert_to(\(EmbeddedMigrations.views), 'UTF8')), 'hex')", as: String.self) ?? ""
        return "Kiln view from views.sql, sha256 \(hash)"
    }

    /// True when every view of views.sql exists, made from this views.sql.
    static func areCurrent(_ s: Statements) async throws -> Bool {
        let marker = try await marker(s)
        let made = try await s.count("""
            SELECT count(*) FROM unnest(\(names)::text[]) AS n
            WHERE obj_description(to_regclass(n), 'pg_class') = \(marker)
            """)
        return made == names.count
    }

    /// Drops the views of views.sql that exist.
    static func drop(_ s: Statements) async throws {
        for name in names { try await s.execute(PostgresQuery(unsafeSQL: "DROP VIEW IF EXISTS \"\(name)\"")) }
    }

    /// Drops and creates the views, with their comments, unless they are current.
    static func refresh(_ s: Statements, _ location: PostgresLocation) async throws {
        guard try await !areCurrent(s) else { return }
        do {
            try await drop(s)
            for statement in statements { try await s.execute(PostgresQuery(unsafeSQL: statement)) }
            // The marker is fixed text and hex digits: safe as a literal (COMMENT takes no parameters).
            let marker = try await marker(s)
            for name in names { try await s.execute(PostgresQuery(unsafeSQL: "COMMENT ON VIEW \"\(name)\" IS '\(marker)'")) }
        } catch {
            throw PostgresSchema.migrationFailure(error, "views.sql", location)
        }
    }
}
