import Foundation
import PostgresNIO
import RenderQueue
import Synchronization

/// The gallery's reads on PostgreSQL, through postgres-nio's connection pool (`PostgresClient`,
/// which `run()` keeps running): each read is one READ ONLY transaction (`withTransaction`) on a
/// pooled connection, awaited, never waited for on a thread. A read that loses its connection is
/// made once more on a fresh one (reads are safe to repeat): a statement whose connection has
/// been closed for a second is given up as lost, since a connection the server terminated can
/// leave a statement pending for ever (the watchdog the queue's session puts on each statement,
/// `Statements.watch`, here on the whole call); one still unanswered after `readSeconds` is
/// given up too.
public final class PostgresGalleryReader: GalleryReader {
    let location: PostgresLocation
    let client: PostgresClient
    let logger: Logger
    let readSeconds: Double

    private init(location: PostgresLocation, connections: Int, readSeconds: Double) throws {
        self.location = location
        var logger = Logger(label: "kiln.postgres")
        logger.logLevel = .critical
        self.logger = logger
        client = PostgresClient(configuration: try location.clientConfiguration(connections: connections), backgroundLogger: logger)
        self.readSeconds = readSeconds
    }

    /// The reader for `url`, once one connection has shown that the database holds a queue this
    /// kiln can read (as `PostgresQueueReader` checks): a bad URL, password or database, or a
    /// database without Kiln's schema, fails here in one line. At most `connections` are open
    /// at once while it runs.
    public static func open(url: String, connections: Int = 4, readSeconds: Double = 60) async throws -> PostgresGalleryReader {
        let location = try PostgresLocation(url: url)
        let reader = try PostgresGalleryReader(location: location, connections: connections, readSeconds: readSeconds)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: try location.connectionConfiguration(), id: 1, logger: reader.logger)
        } catch {
            throw PostgresQueueFailure.from(error, at: location, connecting: true)
        }
        do {
            let version = try await PostgresSchema.version(Statements(connection: connection, logger: reader.logger))
            try await connection.close()
            try PostgresSchema.checkReadable(version: version, at: location)
        } catch {
            PostgresSession.close(connection)
            throw PostgresQueueFailure.from(error, at: location)
        }
        return reader
    }

    public var displayName: String { location.displayName }

    /// The connection pool, until the calling task is cancelled.
    public func run() async { await client.run() }

    /// `body` in one READ ONLY transaction on a pooled connection: made once more after a lost
    /// connection, given up after `readSeconds`.
    func read<T: Sendable>(_ body: @escaping @Sendable (Statements) async throws -> T) async throws -> T {
        let readOnly: @Sendable (Statements) async throws -> T = { s in
            try await s.execute("SET TRANSACTION READ ONLY")
            return try await body(s)
        }
        do {
            do {
                return try await transaction(ifUnanswered: "try again", readOnly)
            } catch where PostgresQueueFailure.isConnectionLost(PostgresGalleryReader.underlying(error)) {
                return try await transaction(ifUnanswered: "try again", readOnly)
            }
        } catch {
            throw PostgresQueueFailure.from(PostgresGalleryReader.underlying(error), at: location)
        }
    }

    /// `body` in one transaction (`withTransaction`) on a pooled connection, watched by
    /// `Deadline`: given up as lost once its connection has closed under it, and after
    /// `readSeconds` with a transient failure ending in `ifUnanswered`. Errors come back as
    /// postgres-nio gives them (see `underlying`).
    func transaction<T: Sendable>(ifUnanswered: String, _ body: @escaping @Sendable (Statements) async throws -> T) async throws -> T {
        let client = self.client, logger = self.logger, seconds = readSeconds
        let leased = LeasedConnection()
        return try await Deadline.run(seconds: seconds, else: PostgresQueueFailure(
            "\(location.displayName): the server did not answer within \(Int(seconds)) s; \(ifUnanswered)", kind: .transient),
            closed: leased.isClosed) {
            try await client.withTransaction(logger: logger) { connection in
                leased.hold(connection)
                return try await body(Statements(connection: connection, logger: logger))
            }
        }
    }

    /// The error inside postgres-nio's transaction wrapper: the body's, else BEGIN's or COMMIT's.
    static func underlying(_ error: Error) -> Error {
        guard let wrapped = error as? PostgresTransactionError else { return error }
        return wrapped.closureError ?? wrapped.beginError ?? wrapped.commitError ?? error
    }
}

/// The connection a pooled call was lent, for the watchdog (`Deadline`) that gives the call up
/// once that connection has closed under it (BEGIN, a statement or ROLLBACK alike).
final class LeasedConnection: Sendable {
    private let connection = Mutex<PostgresConnection?>(nil)

    func hold(_ c: PostgresConnection) { connection.withLock { $0 = c } }

    /// True once the connection lent is closed; false before one is lent.
    @Sendable func isClosed() -> Bool { connection.withLock { $0?.isClosed ?? false } }
}
