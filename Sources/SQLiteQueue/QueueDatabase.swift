import Foundation
import GRDB
import RenderQueue

/// The queue's SQLite database: WAL (a `DatabasePool`), foreign keys on, a busy timeout so
/// several worker processes can share it, and the embedded migrations applied in order, then
/// the views (views.sql), all in one transaction; the version is kept in `PRAGMA user_version`.
public final class QueueDatabase: Sendable {
    public let path: String
    public let pool: DatabasePool
    public static var knownVersion: Int { EmbeddedMigrations.all.count }

    public init(path: String, busyTimeout: TimeInterval = 30) throws {
        self.path = path
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(busyTimeout)
        config.label = "kiln-queue"
        // Before the pool switches the file to WAL and migrates it: another program's database is refused.
        try QueueDatabase.checkBeforeWriting(path: path)
        config.prepareDatabase { db in db.add(function: QueueDatabase.processIsGone) }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw QueueError.cannotOpen(path: path, reason: "\(error)")
        }
        try migrate()
    }

    /// `kiln_process_gone(pid)`: true when no process has that id on this machine; used by claims
    /// to take over a job whose worker on this host died.
    static let processIsGone = DatabaseFunction("kiln_process_gone", argumentCount: 1, pure: false) { values in
        guard let pid = Int64.fromDatabaseValue(values[0]), pid > 0, pid <= Int64(Int32.max) else { return false }
        return WorkerIdentity.processIsGone(Int32(pid))
    }

    /// Applies pending migrations and recreates the views when they differ from views.sql;
    /// refuses a database from a newer kiln.
    func migrate() throws {
        try pool.writeWithoutTransaction { db in
            let current = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            if current > QueueDatabase.knownVersion {
                throw QueueError.newerDatabase(path: path, version: current, known: QueueDatabase.knownVersion)
            }
            if current == QueueDatabase.knownVersion, try QueueDatabase.viewsAreCurrent(db) { return }
            // One transaction: the pending migrations, then the views (QueueViews.swift).
            try db.inTransaction(.immediate) {
                // Re-check inside the write lock: another process may have migrated meanwhile.
                let now = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                if now > QueueDatabase.knownVersion {
                    throw QueueError.newerDatabase(path: path, version: now, known: QueueDatabase.knownVersion)
                }
                for (index, migration) in EmbeddedMigrations.all.enumerated() where index + 1 > now {
                    if index + 1 > QueueDatabase.lastVersionWithViews { try QueueDatabase.dropViews(db) }
                    try db.execute(sql: migration.sql)
                    try db.execute(sql: "PRAGMA user_version = \(index + 1)")
                }
                try QueueDatabase.refreshViews(db)
                return .commit
            }
        }
    }

    public var version: Int { (try? pool.read { try Int.fetchOne($0, sql: "PRAGMA user_version") ?? 0 }) ?? 0 }
}
