import Foundation
import KilnTestSupport
import PostgresNIO
@testable import PostgresQueue
import RenderQueue

/// The PostgreSQL server `Tests/postgres.sh` starts, named by `KILN_TEST_POSTGRES_URL` (an admin
/// URL: its role may create databases). Each test gets a database of its own, made fresh and
/// dropped afterwards. Without the variable the tests fail with one line saying how to run
/// them; they never skip.
enum PostgresTestServer {
    /// The admin URL (`TestQueues.serverURL` fails with the way to run the tests).
    static func adminURL() throws -> String { try TestQueues.serverURL() }

    /// A URL (with the admin's user and password) of a new, empty database, made as every queue
    /// test makes its PostgreSQL queues (`TestQueues.location`).
    static func freshDatabaseURL() throws -> String {
        try TestQueues.location(.postgresql, "specific", in: NSTemporaryDirectory())
    }

    /// Drops the database `url` names (closing its other connections first); errors are ignored,
    /// as this runs in tearDown.
    static func drop(_ url: String) async {
        guard let admin = try? adminURL(), let database = try? PostgresLocation(url: url).database else { return }
        _ = try? await execute(admin, "DROP DATABASE IF EXISTS \"\(database)\" WITH (FORCE)")
    }

    /// `url` with its database replaced by `database`, keeping user, password, host and port.
    static func url(_ url: String, database: String, password: String? = nil) throws -> String {
        let l = try PostgresLocation(url: url)
        guard case .tcp(let host) = l.host else { throw SetupFailure(description: "KILN_TEST_POSTGRES_URL must name a TCP host") }
        let secret = (password ?? l.password).map { ":" + PostgresURLParts.encode($0) } ?? ""
        return "postgresql://\(PostgresURLParts.encode(l.user))\(secret)@\(host):\(l.port)/\(database)?sslmode=disable"
    }

    /// Rows of `sql` (one statement) run on `url` outside any transaction, as text.
    @discardableResult
    static func execute(_ url: String, _ sql: String) async throws -> [[String?]] {
        let session = try await PostgresSession(PostgresLocation(url: url))
        let query = PostgresQuery(unsafeSQL: sql)
        return try await session.autocommit { s in try await s.rows(query).map { row in row.map { PostgresText.render($0) } } }
    }

    struct SetupFailure: Error, CustomStringConvertible { let description: String }

    /// A port on 127.0.0.1 nothing listens on.
    static func closedPort() throws -> Int {
        let (fd, port) = try loopbackSocket(listening: false)
        close(fd)
        return port
    }

    /// A socket on 127.0.0.1 that accepts connections (in the kernel) and never answers, like a
    /// server that hangs: (descriptor to close, port).
    static func blackHole() throws -> (fd: Int32, port: Int) { try loopbackSocket(listening: true) }

    static func loopbackSocket(listening: Bool) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok, !listening || listen(fd, 8) == 0 else {
            close(fd)
            throw SetupFailure(description: "cannot open a socket on 127.0.0.1")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

/// A value shared between test threads.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func update(_ body: (inout T) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}
