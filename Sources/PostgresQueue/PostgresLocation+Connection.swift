import Foundation
import PostgresNIO
import RenderQueue

extension PostgresLocation {
    /// postgres-nio's configuration for this location: TCP with TLS as `sslMode` says (libpq's
    /// `prefer` and `require` do not check the certificate; `verify-ca` checks it against
    /// `sslrootcert` or the system's roots, `verify-full` also checks the host name), or the
    /// Unix socket `.s.PGSQL.<port>` in the socket folder; the connect timeout; the
    /// application name shown in `pg_stat_activity`.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch host {
        case .socket(let folder):
            configuration = .init(unixSocketPath: socketPath(in: folder), username: user, password: password, database: database)
        case .tcp(let name):
            configuration = .init(host: name, port: port, username: user, password: password, database: database, tls: try tls())
        }
        configuration.options.connectTimeout = .milliseconds(connectTimeoutMilliseconds)
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }

    /// The server's Unix socket in `folder`, as libpq names it.
    func socketPath(in folder: String) -> String { (folder as NSString).appendingPathComponent(".s.PGSQL.\(port)") }

    /// `connectTimeout` as both postgres-nio configurations take it.
    var connectTimeoutMilliseconds: Int64 { Int64((connectTimeout * 1000).rounded()) }

    /// The application name shown in `pg_stat_activity`, and a server-side end to idle
    /// transactions: a worker frozen inside a transaction (SIGSTOP, a suspended VM) would hold
    /// its job's row lock until TCP gave up, and FOR UPDATE SKIP LOCKED claims would skip the job
    /// even after its lease ran out. Kiln's transactions never wait on the client, so the server
    /// ends one idle for 30 s and the lock goes with it.
    var startupParameters: [(String, String)] {
        [("application_name", applicationName), ("idle_in_transaction_session_timeout", "30s")]
    }

    func tls() throws -> PostgresConnection.Configuration.TLS {
        guard let tls = tlsConfiguration() else { return .disable }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw QueueError.badLocation("\(displayName): cannot set up TLS for sslmode=\(sslMode.rawValue) (\(error)); check sslrootcert")
        }
        return prefersTLS ? .prefer(context) : .require(context)
    }

    /// The TLS settings `sslMode` asks for; nil for `disable`.
    func tlsConfiguration() -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable: return nil
        case .allow, .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let root = sslRootCert { tls.trustRoots = .file(root) }
        return tls
    }

    /// libpq's `allow` and `prefer` fall back to plain text; the others insist on TLS.
    var prefersTLS: Bool { sslMode == .allow || sslMode == .prefer }

    /// postgres-nio's pool (`PostgresClient`) for this location, as `connectionConfiguration`
    /// connects: the same endpoint, TLS, timeout and startup parameters; at most `connections`
    /// open at once. The TLS settings are checked here, so a bad sslrootcert fails in one line.
    func clientConfiguration(connections: Int) throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch host {
        case .socket(let folder):
            configuration = .init(unixSocketPath: socketPath(in: folder), username: user, password: password, database: database)
        case .tcp(let name):
            var tls = PostgresClient.Configuration.TLS.disable
            if let settings = tlsConfiguration() {
                _ = try self.tls()
                tls = prefersTLS ? .prefer(settings) : .require(settings)
            }
            configuration = .init(host: name, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.connectTimeout = .milliseconds(connectTimeoutMilliseconds)
        configuration.options.additionalStartupParameters = startupParameters
        configuration.options.maximumConnections = max(1, connections)
        return configuration
    }
}
