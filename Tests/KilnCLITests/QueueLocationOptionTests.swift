import Foundation
import KilnTestSupport
import XCTest

/// `--db` is one option group (`QueueLocationOptions`): every queue command shows the same help
/// for it and none declares its own.
final class QueueLocationOptionTests: XCTestCase {
    static let commands = ["enqueue", "sweep", "work", "status", "report", "cancel", "retry", "pause", "resume", "prune",
                           "sheet", "export", "serve"]

    func testEveryQueueCommandShowsTheSameDbHelp() throws {
        let help = "--db <db> The queue: a SQLite file or postgresql://user@host:port/dbname (default: $KILN_DB)."
        for command in Self.commands {
            let r = try KilnProcess.run([command, "--help"])
            XCTAssertEqual(r.status, 0, command)
            // Help wraps at the terminal's width: compare with runs of spaces and line breaks as one space.
            let flat = r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
            XCTAssertTrue(flat.contains(help), "\(command): \(r.stdout)")
        }
    }

    func testDbIsDeclaredOnce() throws {
        let commands = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/kiln/Commands")
        var declared: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: commands.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: commands.appendingPathComponent(file), encoding: .utf8)
            declared += Array(repeating: file, count: text.components(separatedBy: "var db: String?").count - 1)
        }
        XCTAssertEqual(declared, ["QueueLocationOptions.swift"])
    }
}
