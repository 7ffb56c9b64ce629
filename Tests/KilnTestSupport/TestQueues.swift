import Foundation
import XCTest

/// The databases a queue test runs on: every queue test runs once per backend.
public enum QueueBackend: String, CaseIterable, Sendable {
    case sqlite, postgresql
}

/// Fresh, empty queue locations for tests: a file in the test's folder for SQLite, a new database
/// on the test server for PostgreSQL. The server is the one `Tests/postgres.sh` starts and names
/// in `KILN_TEST_POSTGRES_URL` (a URL of its admin database); without it PostgreSQL tests fail
/// loudly rather than skip.
public enum TestQueues {
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// The test server's admin URL.
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["KILN_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw Unavailable(description: "KILN_TEST_POSTGRES_URL is not set: run the tests through Tests/postgres.sh, which starts a private PostgreSQL server (see README)")
        }
        return url
    }

    nonisolated(unsafe) static var counter = 0
    static let lock = NSLock()

    /// A new queue location (`--db` value) named after `name`: `dir/name.db`, or a new database.
    public static func location(_ backend: QueueBackend, _ name: String, in dir: String) throws -> String {
        switch backend {
        case .sqlite:
            return (dir as NSString).appendingPathComponent(name + ".db")
        case .postgresql:
            lock.lock()
            counter += 1
            let n = counter
            lock.unlock()
            let database = "kiln_\(getpid())_\(n)_" + name.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(20)
            let admin = try serverURL()
            try psql(admin, "CREATE DATABASE \(database)")
            return try replaceDatabase(in: admin, with: database)
        }
    }

    /// `url` with its path (the database name) replaced.
    public static func replaceDatabase(in url: String, with database: String) throws -> String {
        guard var parts = URLComponents(string: url) else { throw Unavailable(description: "KILN_TEST_POSTGRES_URL is not a URL") }
        parts.path = "/" + database
        guard let out = parts.string else { throw Unavailable(description: "KILN_TEST_POSTGRES_URL is not a URL") }
        return out
    }

    /// Runs SQL on a queue location with the database's own client (`sqlite3` or `psql`): for
    /// tests that set up states the commands cannot make. Returns the rows, `|`-separated.
    @discardableResult
    public static func execute(_ location: String, _ sql: String) throws -> [String] {
        if location.hasPrefix("postgresql://") { return try psql(location, sql) }
        return try tool("/usr/bin/sqlite3", ["-batch", "-cmd", ".timeout 30000", location, sql])
    }

    @discardableResult
    static func psql(_ url: String, _ sql: String) throws -> [String] {
        try tool("/usr/bin/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
    }

    static func tool(_ path: String, _ arguments: [String]) throws -> [String] {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Unavailable(description: "\(path) is missing: install Debian's \(path.hasSuffix("psql") ? "postgresql-client" : "sqlite3") package")
        }
        let child = try ChildProcess(path, arguments)
        guard try child.status() == 0 else {
            throw Unavailable(description: "\((path as NSString).lastPathComponent) failed: \(child.stderr)")
        }
        return child.stdout.split(separator: "\n").map(String.init)
    }
}

/// A test case whose queue tests run on every backend: `try onEachBackend { backend in ... }`
/// runs the body once per backend, with failures prefixed by the backend's name.
open class QueueTestCase: XCTestCase {
    /// The backend the body is running on (failures name it).
    public private(set) var backend: QueueBackend = .sqlite
    private var running = false
    /// A fresh folder for the test (removed afterwards); inside `onEachBackend`, a fresh
    /// subfolder per backend.
    public var dir = ""
    private var root = ""

    open override func setUpWithError() throws {
        try super.setUpWithError()
        root = try Fixtures.temporaryDirectory()
        dir = root
    }

    open override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
        try super.tearDownWithError()
    }

    /// Runs `body` on SQLite, then on PostgreSQL.
    public func onEachBackend(_ body: (QueueBackend) throws -> Void) throws {
        for b in QueueBackend.allCases {
            backend = b
            running = true
            dir = (root as NSString).appendingPathComponent(b.rawValue)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { running = false; dir = root }
            do { try body(b) } catch { throw BackendError(backend: b, error: error) }
        }
    }

    /// Runs an async `body` on SQLite, then on PostgreSQL (for tests that await, e.g. HTTP).
    public func onEachBackend(_ body: (QueueBackend) async throws -> Void) async throws {
        for b in QueueBackend.allCases {
            backend = b
            running = true
            dir = (root as NSString).appendingPathComponent(b.rawValue)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { running = false; dir = root }
            do { try await body(b) } catch { throw BackendError(backend: b, error: error) }
        }
    }

    /// A fresh queue (`--db` value) of the current backend named after `name`.
    public func queue(_ name: String) throws -> String { try TestQueues.location(backend, name, in: dir) }

    /// `sqlite` on SQLite, `postgresql` on PostgreSQL: for the few test queries that look at
    /// things the views do not show in one dialect (JSON functions, integrity checks).
    public func dialect(_ sqlite: String, _ postgresql: String) -> String { backend == .sqlite ? sqlite : postgresql }

    /// True when `db` holds nothing: no file for SQLite, no tables in the PostgreSQL database.
    public func nothingWritten(_ db: String) throws -> Bool {
        switch backend {
        case .sqlite: return !FileManager.default.fileExists(atPath: db)
        case .postgresql:
            return try TestQueues.execute(db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'") == ["0"]
        }
    }

    /// The database's own consistency check: `PRAGMA integrity_check` on SQLite ("ok"); on
    /// PostgreSQL, which has no such check, that every output belongs to a done job.
    public func integrityCheck(_ db: String) throws -> [String] {
        switch backend {
        case .sqlite: return try TestQueues.execute(db, "PRAGMA integrity_check")
        case .postgresql:
            return try TestQueues.execute(db, "SELECT CASE WHEN COUNT(*) = 0 THEN 'ok' ELSE 'outputs of unfinished jobs' END FROM outputs o JOIN jobs j USING (job_id) WHERE j.state <> 'done'")
        }
    }

    struct BackendError: Error, CustomStringConvertible {
        let backend: QueueBackend
        let error: Error
        var description: String { "[\(backend.rawValue)] \(error)" }
    }

    open override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int, expected: Bool) {
        let prefix = running ? "[\(backend.rawValue)] " : ""
        super.recordFailure(withDescription: prefix + description, inFile: filePath, atLine: lineNumber, expected: expected)
    }
}
