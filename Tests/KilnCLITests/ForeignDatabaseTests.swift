import Foundation
import KilnTestSupport
import XCTest

/// Every command that takes --db refuses another program's SQLite database and leaves it as it was.
final class ForeignDatabaseTests: XCTestCase {
    func testEveryCommandRefusesAnotherProgramsDatabase() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") else { throw XCTSkip("needs /usr/bin/sqlite3 to make the file") }
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/notes.db"
        let make = try ChildProcess("/usr/bin/sqlite3", [db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('keep me');"])
        XCTAssertEqual(try make.status(), 0, make.stderr)
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let spec = dir + "/spec.yaml"
        try "model: \(Fixtures.model("tiny-sdxl-base"))\nbase: {prompt: a fox, width: 64, height: 64, steps: 2}\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let commands: [[String]] = [
            ["enqueue", "--db", db, "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "a fox"],
            ["sweep", "--db", db, spec], ["work", "--db", db, "--until-empty"], ["status", "--db", db],
            ["cancel", "--db", db, "1"], ["retry", "--db", db, "1"], ["pause", "--db", db], ["resume", "--db", db],
            ["prune", "--db", db], ["report", "--db", db, "--sql", "SELECT * FROM notes"],
            ["sheet", "--db", db, "--sweep", "1", "--x", "seed", "--y", "steps", "--output", dir + "/grid.png"],
            ["export", "--db", db, "--output-folder", dir],
        ]
        for args in commands {
            let r = try KilnProcess.run(args)
            XCTAssertNotEqual(r.status, 0, args[0])
            XCTAssertEqual(r.stderrLines.count, 1, "\(args[0]): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("without Kiln's queue tables"), "\(args[0]): \(r.stderr)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before, "\(args[0]) changed the file")
            XCTAssertFalse(FileManager.default.fileExists(atPath: db + "-wal"), "\(args[0]) switched it to WAL")
        }
    }
}
