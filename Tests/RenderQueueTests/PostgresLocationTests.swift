import Foundation
import KilnTestSupport
import Pipelines
@testable import PostgresQueue
import RenderQueue
import SQLiteQueue
import XCTest

/// PostgreSQL locations as libpq reads them, without a server: URLs, passwords never shown,
/// .pgpass matching, and migration scripts split into statements.
final class PostgresLocationTests: XCTestCase {
    /// The one-line description of what `body` throws.
    func failure(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    func testURLsParseAsLibpqReadsThem() throws {
        let none: [String: String] = [:]
        let l = try PostgresLocation(url: "postgresql://k%40n:p%2Fw@db.example:6543/queue%201?sslmode=require&connect_timeout=3", environment: none)
        XCTAssertEqual([l.user, l.password, l.database], ["k@n", "p/w", "queue 1"])
        XCTAssertEqual(l.host, .tcp("db.example"))
        XCTAssertEqual([l.port, Int(l.connectTimeout)], [6543, 3])
        XCTAssertEqual(l.sslMode, .require)
        XCTAssertEqual(l.displayName, "postgresql://k%40n@db.example:6543/queue%201")
        let v6 = try PostgresLocation(url: "postgres://u@[::1]:5433/q", environment: none)
        XCTAssertEqual(v6.host, .tcp("::1"))
        XCTAssertEqual(v6.displayName, "postgresql://u@[::1]:5433/q")
        let socket = try PostgresLocation(url: "postgresql://u@/q?host=/tmp/pg", environment: none)
        XCTAssertEqual(socket.host, .socket(folder: "/tmp/pg"))
        XCTAssertEqual(socket.displayName, "postgresql://u@:5432/q?host=/tmp/pg")
        let env = ["PGUSER": "envuser", "PGPORT": "7777", "PGHOST": "envhost", "PGDATABASE": "envdb", "PGPASSWORD": "envpw"]
        let d = try PostgresLocation(url: "postgresql://", environment: env)
        XCTAssertEqual([d.user, d.database, d.password], ["envuser", "envdb", "envpw"])
        XCTAssertEqual(d.host, .tcp("envhost"))
        XCTAssertEqual(d.port, 7777)
        let os = try PostgresLocation(url: "postgresql://h", environment: ["PGPASSFILE": "/nonexistent"], osUser: "alice")
        XCTAssertEqual([os.user, os.database], ["alice", "alice"])
        XCTAssertEqual(os.port, 5432)
        XCTAssertNil(os.password)
        // An unencoded @ or / in the password: the user information ends at the last @.
        let raw = try PostgresLocation(url: "postgresql://u:p@ss/w@h/q", environment: none)
        XCTAssertEqual([raw.password, raw.database], ["p@ss/w", "q"])
        for bad in ["postgresql://u:secret@h:notaport/q", "postgresql://u:secret@h/q?sslmode=sometimes", "postgresql://u:secret@h/q?colour=red",
                    "mysql://u:secret@h/q", "postgresql://u:secret@h1,h2/q", "postgresql://u:secret%zz@h/q"] {
            let message = failure { try PostgresLocation(url: bad, environment: none) }
            XCTAssertFalse(message.contains("secret"), message)
            XCTAssertFalse(message.contains("\n"), message)
            XCTAssertTrue(message.hasPrefix("--db:"), message)
        }
    }

    func testPasswordNeverShown() throws {
        let l = try PostgresLocation(url: "postgresql://kiln:hunter2@h:5432/q", environment: [:])
        for text in [l.displayName, l.description, String(reflecting: l), "\(l)"] { XCTAssertFalse(text.contains("hunter2"), text) }
        var dumped = ""
        dump(l, to: &dumped)
        XCTAssertFalse(dumped.contains("hunter2"), dumped)
    }

    func testPGPassMatchesAsLibpq() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = (dir as NSString).appendingPathComponent("pgpass")
        try """
            # comment
            otherhost:5432:*:kiln:wrong
            db.example:5432:q:kiln:first\\:pw\\\\x
            db.example:*:*:kiln:second
            localhost:5432:*:*:socketpw
            *:*:*:*:fallback

            """.write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        func lookup(_ host: PostgresLocation.Host, _ port: Int, _ db: String, _ user: String) -> String? {
            PGPass.lookup(file: file, host: host, port: port, database: db, user: user)
        }
        XCTAssertEqual(lookup(.tcp("db.example"), 5432, "q", "kiln"), "first:pw\\x")
        XCTAssertEqual(lookup(.tcp("db.example"), 6000, "q", "kiln"), "second")
        XCTAssertEqual(lookup(.socket(folder: "/var/run/postgresql"), 5432, "q", "anyone"), "socketpw", "the default socket is localhost")
        XCTAssertEqual(lookup(.socket(folder: "/tmp/other"), 5432, "q", "anyone"), "fallback", "another socket folder is its path")
        XCTAssertEqual(lookup(.tcp("elsewhere"), 1, "x", "y"), "fallback")
        let env = ["PGPASSFILE": file]
        XCTAssertEqual(try PostgresLocation(url: "postgresql://kiln@db.example/q", environment: env).password, "first:pw\\x")
        XCTAssertEqual(try PostgresLocation(url: "postgresql://kiln@db.example/q", environment: env.merging(["PGPASSWORD": "env"]) { $1 }).password, "env")
        XCTAssertEqual(try PostgresLocation(url: "postgresql://kiln:url@db.example/q", environment: env).password, "url")
        chmod(file, 0o644)
        XCTAssertNil(lookup(.tcp("db.example"), 5432, "q", "kiln"), "a file others can read is ignored, as libpq ignores it")
    }

    /// A password file libpq ignores (others may read it, or it is no regular file) is named
    /// with the fix, instead of a bare "no password was given".
    func testAnIgnoredPasswordFileIsNamedWithItsFix() throws {
        let home = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let file = (home as NSString).appendingPathComponent(".pgpass")
        try "*:*:*:*:secret\n".write(toFile: file, atomically: true, encoding: .utf8)
        let env = ["HOME": home]
        chmod(file, 0o644)
        XCTAssertEqual(PGPass.missingPasswordAdvice(environment: env),
                       "~/.pgpass is ignored: its permissions are 0644; chmod 600 it (PostgreSQL reads it only when no one else may)")
        XCTAssertNil(try PostgresLocation(url: "postgresql://kiln@db.example/q", environment: env).password)
        chmod(file, 0o640)
        XCTAssertTrue(PGPass.missingPasswordAdvice(environment: env).hasPrefix("~/.pgpass is ignored: its permissions are 0640"))
        // PGPASSFILE's file is named by its path.
        XCTAssertTrue(PGPass.missingPasswordAdvice(environment: ["PGPASSFILE": file]).hasPrefix("\(file) is ignored: its permissions are 0640"))
        chmod(file, 0o600)
        XCTAssertEqual(try PostgresLocation(url: "postgresql://kiln@db.example/q", environment: env).password, "secret")
        XCTAssertEqual(try PostgresLocation(url: "postgresql://kiln@db.example/q", environment: ["PGPASSFILE": file]).password, "secret")
        XCTAssertFalse(PGPass.missingPasswordAdvice(environment: env).contains("ignored"))
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.createDirectory(atPath: file, withIntermediateDirectories: false)
        XCTAssertEqual(PGPass.missingPasswordAdvice(environment: env), "~/.pgpass is ignored: it is not a regular file")
        XCTAssertEqual(PGPass.missingPasswordAdvice(environment: ["HOME": home + "/none"]),
                       "put it in PGPASSWORD, ~/.pgpass (or the file PGPASSFILE names) or KILN_DB's URL")
    }

    func testMigrationScriptsSplitOutsideQuotesAndBodies() {
        let parts = SQLScript.statements("""
            -- a comment; with a semicolon
            CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'a;b' $$;
            /* block; /* nested; */ */ SELECT "x;y" FROM t; SELECT $tag$ ; $tag$;
            """)
        XCTAssertEqual(parts.count, 3, "\(parts)")
        XCTAssertEqual(StepSeconds.jsonNumber(1), "1.0")
        XCTAssertEqual(StepSeconds.jsonNumber(0.1 + 0.2), "0.3")
        XCTAssertEqual(StepSeconds.jsonNumber(1e-5), "1.0e-05")
        XCTAssertNil(StepSeconds.jsonNumber(.infinity))
    }

}
