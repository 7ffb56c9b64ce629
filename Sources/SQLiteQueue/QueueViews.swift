import Foundation
import GRDB

/// The public views (`v_jobs`, `v_outputs`), defined once in Migrations/sqlite/views.sql and
/// made after the numbered migrations, which hold only tables from 0006 on.
extension QueueDatabase {
    /// Migrations up to this version create and replace the views themselves (released files);
    /// before a later one runs, the views are dropped, so a table change never trips over them.
    static let lastVersionWithViews = 5

    /// The views as SQLite stores them (name and `sqlite_master.sql`), made by running
    /// views.sql in an empty in-memory database: SQLite normalises the text it keeps, so the
    /// comparison is with its own rendering. SQLite does not resolve a view's tables until it
    /// is read.
    static let embeddedViews: Result<[String: String], Error> = Result {
        let scratch = try DatabaseQueue()
        return try scratch.write { db in
            try db.execute(sql: EmbeddedMigrations.views)
            return try views(db)
        }
    }

    /// The views in `db`, by name.
    static func views(_ db: Database) throws -> [String: String] {
        let rows = try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'view'")
        return Dictionary(rows.map { ($0["name"] as String, $0["sql"] as String) }, uniquingKeysWith: { first, _ in first })
    }

    /// True when every view of views.sql is in `db` with the same definition.
    static func viewsAreCurrent(_ db: Database) throws -> Bool {
        let wanted = try embeddedViews.get()
        let stored = try views(db)
        return wanted.allSatisfy { stored[$0.key] == $0.value }
    }

    /// Drops the views of views.sql that `db` has.
    static func dropViews(_ db: Database) throws {
        for name in try embeddedViews.get().keys.sorted() {
            try db.execute(sql: "DROP VIEW IF EXISTS \"\(name)\"")
        }
    }

    /// Drops and creates the views unless they already equal views.sql.
    static func refreshViews(_ db: Database) throws {
        guard try !viewsAreCurrent(db) else { return }
        try dropViews(db)
        try db.execute(sql: EmbeddedMigrations.views)
    }
}
