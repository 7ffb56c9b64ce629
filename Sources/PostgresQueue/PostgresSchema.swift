import Foundation
import PostgresNIO
import RenderQueue

/// The queue's schema on PostgreSQL: the embedded migrations (Migrations/postgresql), applied in
/// order, then the views (views.sql, when they differ), all in one transaction under a
/// transaction-scoped advisory lock, so that workers starting together migrate once; the
/// version is the single row of `kiln_schema`. A database from a newer kiln is refused, and so
/// is one that holds other tables but no `kiln_schema` (another program's), as SQLite refuses
/// another program's file.
enum PostgresSchema {
    static var knownVersion: Int { EmbeddedMigrations.all.count }
    /// The advisory lock key migrations hold ("kiln" in ASCII, then "sch").
    static let lockKey: Int64 = 0x6B69_6C6E_7363_68

    /// The schema version, nil when the database has no `kiln_schema` table.
    static func version(_ s: Statements) async throws -> Int? {
        guard try await s.value(hasSchemaTable, as: Bool.self) == true else { return nil }
        return try await s.value(versionQuery, as: Int.self) ?? 0
    }

    static let hasSchemaTable: PostgresQuery = "SELECT to_regclass('kiln_schema') IS NOT NULL"
    static let versionQuery: PostgresQuery = "SELECT max(version) FROM kiln_schema"

    /// Brings the database to `knownVersion` and its views to views.sql.
    static func migrate(_ session: PostgresSession) async throws {
        let location = session.location
        let current = try await session.autocommit { s -> Int? in
            let version = try await version(s)
            if version == nil, try await s.count("SELECT count(*) FROM pg_class WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND relkind IN ('r', 'v', 'p')") > 0 {
                throw QueueError.badLocation("\(location.displayName): a database with tables but no kiln_schema (another program's?); give --db a new database or a kiln queue")
            }
            return version
        }
        if let current, current > knownVersion {
            throw QueueError.newerDatabase(path: location.displayName, version: current, known: knownVersion)
        }
        if current == knownVersion {
            let viewsAreCurrent = try await session.autocommit { (s: Statements) in try await PostgresViews.areCurrent(s) }
            if viewsAreCurrent { return }
        }
        // One transaction: the pending migrations, then the views (PostgresViews).
        try await session.transaction { s in
            try await s.execute("SELECT pg_advisory_xact_lock(\(lockKey))")
            try await s.execute("CREATE TABLE IF NOT EXISTS kiln_schema (version integer NOT NULL)")
            try await s.execute("INSERT INTO kiln_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM kiln_schema)")
            // Read under the lock: another worker may have migrated while this one waited for it.
            let now = try await s.value("SELECT max(version) FROM kiln_schema", as: Int.self) ?? 0
            if now > knownVersion { throw QueueError.newerDatabase(path: location.displayName, version: now, known: knownVersion) }
            for (index, migration) in EmbeddedMigrations.all.enumerated() where index + 1 > now {
                if index + 1 > PostgresViews.lastVersionWithViews { try await PostgresViews.drop(s) }
                for statement in SQLScript.statements(migration.sql) {
                    do {
                        try await s.execute(PostgresQuery(unsafeSQL: statement))
                    } catch {
                        throw migrationFailure(error, migration.name, location)
                    }
                }
                try await s.execute("UPDATE kiln_schema SET version = \(index + 1)")
            }
            try await PostgresViews.refresh(s, location)
        }
    }

    /// A reader's check: the database holds a Kiln queue this kiln can read.
    static func checkReadable(_ session: PostgresSession) async throws {
        try checkReadable(version: try await session.autocommit { try await PostgresSchema.version($0) }, at: session.location)
    }

    /// The reader's verdict on a database whose schema `version` was read (nil: no kiln_schema).
    static func checkReadable(version: Int?, at location: PostgresLocation) throws {
        guard let version, version >= 1 else {
            throw QueueError.badLocation("\(location.displayName): no Kiln queue in this database (no kiln_schema); check --db, or enqueue a job to create one")
        }
        if version > knownVersion { throw QueueError.newerDatabase(path: location.displayName, version: version, known: knownVersion) }
    }

    /// A migration statement's failure, naming the file (a permission problem is the usual one).
    static func migrationFailure(_ error: Error, _ name: String, _ location: PostgresLocation) -> Error {
        guard !PostgresQueueFailure.isConnectionLost(error), let mapped = PostgresQueueFailure.from(error, at: location) as? PostgresQueueFailure else {
            return error
        }
        let hint = mapped.sqlState == "42501" ? "; the role needs CREATE on the database's schema (make it the database's owner)" : ""
        return PostgresQueueFailure("\(mapped.description) in migration \(name)\(hint)", sqlState: mapped.sqlState, kind: mapped.failureKind)
    }
}
