import Foundation
import GRDB
import RenderQueue

/// Checks on a queue file made before it is opened for writing or read: commands that only read
/// never create a database, and no command adds Kiln's tables to another program's database.
extension QueueDatabase {
    /// Refuses a database from a newer kiln, and a non-empty database without Kiln's tables;
    /// when `reading`, an empty one too (there is nothing to read, and reading creates nothing).
    static func checkSchema(_ db: Database, path: String, reading: Bool = false) throws {
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        if version > knownVersion { throw QueueError.newerDatabase(path: path, version: version, known: knownVersion) }
        let names = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        let isQueue = version >= 1 && names.contains("jobs") && names.contains("sweeps")
        guard isQueue || (version == 0 && names.isEmpty) else { throw QueueError.notAQueue(path: path) }
        if reading && !isQueue { throw QueueError.notAKilnQueue(path: path, why: "an empty database") }
    }

    /// For writers that must not create a queue (`work`, `cancel`, `pause`, ...): `path` must be
    /// an existing, non-empty file (its schema is checked when it is opened).
    public static func checkExists(path: String) throws {
        let hint = "check --db (only enqueue and sweep create a queue)"
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw QueueError.badLocation("no such queue file \(path); \(hint)")
        }
        guard (attributes[.size] as? Int ?? 0) > 0 else {
            throw QueueError.badLocation("\(path): an empty file, not a Kiln queue; \(hint)")
        }
    }

    /// Before a writer opens `path` (which switches it to WAL and migrates it): an existing,
    /// non-empty file must be a kiln queue.
    static func checkBeforeWriting(path: String) throws {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > 0 else { return }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(30)
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            try queue.read { try checkSchema($0, path: path) }
        } catch let error as QueueError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw QueueError.cannotOpen(path: path, reason: "not an SQLite database; give a new file or a kiln queue to --db")
        } catch {
            // Anything else (a read-only folder, say) is for the writer's own open to report.
        }
    }

    /// An existing queue opened read-only, for commands that only read (`status`, `report`,
    /// `sheet`, `export`): a missing file is refused rather than created, and so is a file
    /// without Kiln's tables (an empty one too).
    ///
    /// A queue in WAL mode is read through its `-shm` index, which SQLite must create when it is
    /// missing (and the `-wal` with it): in a folder this user cannot write (another user's, a
    /// read-only file system) that fails with SQLITE_CANTOPEN or SQLITE_READONLY. Then no
    /// writer has the queue open (a writer keeps both files while it has), so the file is read
    /// as `immutable=1`, without the index. When the `-wal` and `-shm` are there and readable,
    /// SQLite reads through them (read-only `-shm`, SQLite 3.22 and newer), seeing every commit.
    public static func openReadOnly(path: String, busyTimeout: TimeInterval = 30) throws -> DatabaseQueue {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw QueueError.cannotOpen(path: path, reason: "no such file; check --db (commands that only read never create a queue)")
        }
        guard (attributes[.size] as? Int ?? 0) > 0 else { throw QueueError.notAKilnQueue(path: path, why: "an empty file") }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(busyTimeout)
        // `status` marks a job whose worker on this host is gone, as claims find it.
        config.prepareDatabase { db in db.add(function: QueueDatabase.processIsGone) }
        func open(_ location: String) throws -> DatabaseQueue {
            let queue = try DatabaseQueue(path: location, configuration: config)
            try queue.read { try checkSchema($0, path: path, reading: true) }
            return queue
        }
        do {
            return try open(path)
        } catch let error as QueueError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CANTOPEN || error.resultCode == .SQLITE_READONLY {
            // A -wal with changes and no -shm to find them by would be read past: refuse instead.
            if let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int, wal > 0 {
                throw QueueError.cannotOpen(path: path, reason: "its -wal file holds changes this user cannot read without a writable -shm file; run as the queue's owner, or after its workers stop")
            }
            do { return try open(immutableURI(path)) } catch let error as QueueError { throw error } catch {
                throw QueueError.cannotOpen(path: path, reason: "\(error)")
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw QueueError.cannotOpen(path: path, reason: "not an SQLite database")
        } catch {
            throw QueueError.cannotOpen(path: path, reason: "\(error)")
        }
    }

    /// `file:` URI of `path` with `immutable=1` (nobody can write a file SQLite cannot even
    /// index read-only, so no change can be missed).
    static func immutableURI(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        return "file:" + (absolute.addingPercentEncoding(withAllowedCharacters: allowed) ?? absolute) + "?immutable=1"
    }
}

extension QueueError {
    /// A file the commands that only read cannot read a queue from (`why`: "an empty file").
    static func notAKilnQueue(path: String, why: String) -> QueueError {
        .badLocation("\(path): \(why), not a Kiln queue; check --db (enqueue or sweep creates a queue)")
    }
}
