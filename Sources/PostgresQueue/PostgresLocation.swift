import Foundation
import RenderQueue

/// Where a PostgreSQL queue lives, read from a `postgresql://` (or `postgres://`) URL as libpq
/// reads one: `postgresql://user[:password]@host[:port]/dbname[?param=value&...]`, components
/// percent-decoded, a host that is a folder (`?host=/run/postgresql`, or `%2F...`) naming a Unix
/// socket directory. What the URL leaves out comes from libpq's environment variables and
/// defaults (`PGHOST`, `PGPORT`/5432, `PGUSER`/the OS user, `PGDATABASE`/the user name,
/// `PGPASSWORD`, then `~/.pgpass` or `PGPASSFILE`, `PGSSLMODE`/prefer). The password is never part
/// of `displayName`, `description` or any error.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    /// A TCP host name or address, or a folder holding the server's Unix socket.
    public enum Host: Sendable, Equatable {
        case tcp(String)
        case socket(folder: String)
    }

    /// libpq's `sslmode`: `disable`; `allow` and `prefer` (TLS when the server offers it, no
    /// certificate check); `require` (TLS, no certificate check); `verify-ca`; `verify-full`.
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: Host
    public var port: Int
    public var user: String
    public var database: String
    public var password: String?
    public var sslMode: SSLMode
    /// `sslrootcert`: a PEM file of trusted roots for `verify-ca`/`verify-full`.
    public var sslRootCert: String?
    /// Seconds to wait for a connection (`connect_timeout`, `PGCONNECT_TIMEOUT`; 10 by default).
    public var connectTimeout: Double
    /// Shown in `pg_stat_activity` (`application_name`, `PGAPPNAME`; `kiln` by default).
    public var applicationName: String

    /// Where libpq looks for the server's socket when no host is given (Debian's build).
    static let defaultSocketFolder = "/var/run/postgresql"

    /// Parses `url`; `environment` supplies what libpq reads from it, `osUser` the fallback user.
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                osUser: String? = nil) throws {
        let parts = try PostgresURLParts(url)
        let env = { (name: String) -> String? in environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let hostText = parts.query["host"] ?? parts.query["hostaddr"] ?? parts.host ?? env("PGHOST")
        if let hostText, hostText.hasPrefix("/") {
            host = .socket(folder: hostText)
        } else if let hostText {
            host = .tcp(hostText)
        } else {
            var isFolder: ObjCBool = false
            let socket = FileManager.default.fileExists(atPath: PostgresLocation.defaultSocketFolder, isDirectory: &isFolder) && isFolder.boolValue
            host = socket ? .socket(folder: PostgresLocation.defaultSocketFolder) : .tcp("localhost")
        }
        let portText = parts.query["port"] ?? parts.port ?? env("PGPORT") ?? "5432"
        guard let port = Int(portText), (1...65_535).contains(port) else {
            throw QueueError.badLocation("--db: the PostgreSQL URL's port is not a number between 1 and 65535")
        }
        self.port = port
        guard let user = parts.query["user"] ?? parts.user ?? env("PGUSER") ?? osUser ?? PostgresLocation.currentOSUser() else {
            throw QueueError.badLocation("--db: the PostgreSQL URL names no user and the OS user is unknown; put one in the URL (postgresql://user@host/db)")
        }
        self.user = user
        database = parts.query["dbname"] ?? parts.database ?? env("PGDATABASE") ?? user
        let modeText = parts.query["sslmode"] ?? env("PGSSLMODE") ?? SSLMode.prefer.rawValue
        guard let mode = SSLMode(rawValue: modeText) else {
            let known = SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
            throw QueueError.badLocation("--db: sslmode '\(modeText)' is not one of \(known)")
        }
        sslMode = mode
        sslRootCert = parts.query["sslrootcert"] ?? env("PGSSLROOTCERT")
        let timeoutText = parts.query["connect_timeout"] ?? env("PGCONNECT_TIMEOUT") ?? "10"
        guard let timeout = Double(timeoutText), timeout.isFinite, timeout > 0, timeout <= 3600 else {
            throw QueueError.badLocation("--db: connect_timeout '\(timeoutText)' is not a number of seconds between 0 and 3600")
        }
        connectTimeout = timeout
        applicationName = parts.query["application_name"] ?? env("PGAPPNAME") ?? "kiln"
        password = parts.query["password"] ?? parts.password ?? env("PGPASSWORD")
        if password == nil {
            password = PGPass.lookup(file: PGPass.file(environment: environment), host: host, port: port, database: database, user: user)
        }
    }

    /// The URL without its password (and without parameters that only tune the connection).
    public var displayName: String {
        let u = PostgresURLParts.encode(user)
        let db = PostgresURLParts.encode(database)
        switch host {
        case .tcp(let name):
            let h = name.contains(":") ? "[\(name)]" : PostgresURLParts.encode(name)
            return "postgresql://\(u)@\(h):\(port)/\(db)"
        case .socket(let folder):
            return "postgresql://\(u)@:\(port)/\(db)?host=\(folder)"
        }
    }

    public var description: String { displayName }

    /// What `dump` and debuggers show: everything but the password.
    public var customMirror: Mirror {
        Mirror(self, children: ["displayName": displayName, "sslMode": sslMode.rawValue, "connectTimeout": connectTimeout,
                                "hasPassword": password != nil])
    }

    /// The effective user's login name.
    static func currentOSUser() -> String? {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"]
    }
}
