import Foundation
import PostgresNIO
import RenderQueue

/// A PostgreSQL failure as one line naming the database (its URL without the password) and what
/// to do, sorted for the worker: serialization failures, deadlocks, lost connections, too many
/// connections and a full disk (SQLSTATE 53100) are transient; everything else is permanent.
/// postgres-nio's `PSQLError` hides its details from `description`, so they are read here from
/// its fields (SQLSTATE, server message, the underlying connection error).
public struct PostgresQueueFailure: Error, CustomStringConvertible, QueueDatabaseFailure, Equatable {
    public let description: String
    /// The server's SQLSTATE, when the server answered.
    public let sqlState: String?
    /// The server's own message, when the server answered.
    public let serverMessage: String?
    public let failureKind: FailureKind
    public let isDiskFull: Bool
    /// The connection was lost while committing: the change may have been made.
    var mayHaveCommitted = false

    init(_ description: String, sqlState: String? = nil, kind: FailureKind = .permanent, serverMessage: String? = nil) {
        self.description = OneLine.folding(description)
        self.sqlState = sqlState
        self.serverMessage = serverMessage
        failureKind = kind
        isDiskFull = sqlState == "53100"
    }

    /// SQLSTATEs after which the same operation can succeed: serialization failure, deadlock,
    /// lock not available, insufficient resources (disk full, out of memory, too many
    /// connections), operator intervention (server shutting down or restarting), connection
    /// exceptions.
    static func isTransient(_ state: String) -> Bool {
        ["40001", "40P01", "55P03"].contains(state) || state.hasPrefix("53") || state.hasPrefix("57P") || state.hasPrefix("08")
    }

    /// True when `error` means the connection is gone (a new one may work).
    static func isConnectionLost(_ error: Error) -> Bool {
        guard let e = error as? PSQLError else {
            if let gone = error as? ConnectionGone { return !gone.duringStream }
            return error is ChannelError || error is IOError
        }
        if let state = e.serverInfo?[.sqlState] { return state.hasPrefix("08") || state.hasPrefix("57P") }
        let lost: [PSQLError.Code] = [.serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .connectionError]
        return lost.contains(e.code)
    }

    /// `error` made into one line about `location`; `QueueError`s and failures already made pass
    /// through. `connecting` words connection errors as a failed connect.
    static func from(_ error: Error, at location: PostgresLocation, connecting: Bool = false) -> Error {
        if error is QueueError || error is PostgresQueueFailure { return error }
        let db = location.displayName
        guard let e = error as? PSQLError else {
            if let gone = error as? ConnectionGone, gone.duringStream { return PostgresQueueFailure("\(db): \(gone)", kind: .transient) }
            if isConnectionLost(error) {
                return PostgresQueueFailure("\(db): the connection to the server was lost (\(error)); try again", kind: .transient)
            }
            return PostgresQueueFailure("\(db): \(error)")
        }
        if let info = e.serverInfo, let state = info[.sqlState] {
            return server(state: state, message: info[.message] ?? "error", at: location)
        }
        switch e.code {
        case .connectionError:
            let why = e.underlying.map { reason($0, location) } ?? "connection failed"
            return PostgresQueueFailure("cannot connect to \(db): \(why); check host and port", kind: .transient)
        case .authMechanismRequiresPassword:
            return PostgresQueueFailure("\(db): the server asks for a password for user \(location.user) and none was given; \(PGPass.missingPasswordAdvice())")
        case .sslUnsupported:
            return PostgresQueueFailure("\(db): the server does not support SSL, which sslmode=\(location.sslMode.rawValue) asks for; use sslmode=prefer or enable SSL on the server")
        case .unsupportedAuthMechanism:
            return PostgresQueueFailure("\(db): the server asks for an authentication method Kiln does not support (use scram-sha-256, md5 or trust)")
        case .saslError:
            return PostgresQueueFailure("\(db): password authentication failed for user \(location.user); check the password in the URL, PGPASSWORD or ~/.pgpass")
        case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            let what = connecting ? "cannot connect to \(db): the server closed the connection" : "\(db): the connection to the server was lost"
            return PostgresQueueFailure("\(what); check the server and try again", kind: .transient)
        default:
            return PostgresQueueFailure("\(db): \(e.code)\(e.underlying.map { " (\(reason($0, location)))" } ?? "")")
        }
    }

    /// An error the server sent, with what to do for the ones a user meets when setting up.
    static func server(state: String, message: String, at location: PostgresLocation) -> PostgresQueueFailure {
        let failure = serverFailure(state: state, message: message, at: location)
        return PostgresQueueFailure(failure.description, sqlState: state, kind: failure.failureKind, serverMessage: message)
    }

    private static func serverFailure(state: String, message: String, at location: PostgresLocation) -> PostgresQueueFailure {
        let db = location.displayName
        switch state {
        case "28P01":
            return PostgresQueueFailure("\(db): password authentication failed for user \(location.user); check the password in the URL, PGPASSWORD or ~/.pgpass",
                                        sqlState: state)
        case "28000":
            return PostgresQueueFailure("\(db): \(message); check the user name and the server's pg_hba.conf", sqlState: state)
        case "3D000":
            return PostgresQueueFailure("\(db): database \(location.database) does not exist; create it with createdb \(location.database)",
                                        sqlState: state)
        case "53300":
            return PostgresQueueFailure("\(db): \(message); the server has no connection to spare, try again or raise max_connections",
                                        sqlState: state, kind: .transient)
        case "53100":
            return PostgresQueueFailure("\(db): the server's disk is full (\(message)); free space on the database server",
                                        sqlState: state, kind: .transient)
        default:
            return PostgresQueueFailure("\(db): \(message) (SQLSTATE \(state))", sqlState: state,
                                        kind: isTransient(state) ? .transient : .permanent)
        }
    }

    /// Why a connection attempt failed, in words: refused, timed out, unknown host, ...
    static func reason(_ error: Error, _ location: PostgresLocation) -> String {
        switch error {
        case let e as ChannelError:
            if case .connectTimeout = e { return "timed out after \(Int(location.connectTimeout.rounded())) s" }
            return "\(e)"
        case let e as IOError:
            return String(cString: strerror(e.errnoCode)).lowercased()
        case let e as NIOConnectionError:
            if let first = e.connectionErrors.first { return reason(first.error, location) }
            if e.dnsAError != nil || e.dnsAAAAError != nil { return "host name \(e.host) not found" }
            return "no address for host \(e.host)"
        default:
            let text = "\(error)"
            return text.lowercased().contains("lookup") ? "host name not found (\(text))" : text
        }
    }
}
