import Foundation
import KilnTestSupport
import XCTest

/// `kiln sweep` with prompt templates: `--dry-run` lists the expansions; a missing wildcard, a
/// cycle, an unreadable prompt file or too many jobs is one line, and nothing is written.
final class SweepTemplateCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        dir = try Fixtures.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/wc", withIntermediateDirectories: true)
        try "fox\nowl\n".write(toFile: dir + "/wc/animal.txt", atomically: true, encoding: .utf8)
        try "__loop_b__\n".write(toFile: dir + "/wc/loop_a.txt", atomically: true, encoding: .utf8)
        try "x __loop_a__\n".write(toFile: dir + "/wc/loop_b.txt", atomically: true, encoding: .utf8)
        try "a lighthouse\n# not this\n\nan old mill\n".write(toFile: dir + "/prompts.txt", atomically: true, encoding: .utf8)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func spec(_ axes: String) throws -> String {
        let path = dir + "/spec.yaml"
        try "model: \(Fixtures.model("tiny-sdxl-base"))\nwildcards: wc\nbase: {steps: 2, width: 64, height: 64}\naxes:\n\(axes)\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testDryRunShowsTheExpansions() throws {
        let r = try KilnProcess.run(["sweep", "--dry-run", "--db", dir + "/q.db",
                                     try spec("  prompt: [{combinatorial: 'a {red|blue} __animal__'}, {file: prompts.txt}]")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("6 jobs\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("""
            prompt: "a {red|blue} __animal__" gives 4 prompts:
              "a red fox"
              "a red owl"
              "a blue fox"
              "a blue owl"
            """), r.stdout)
        XCTAssertTrue(r.stdout.contains("4: prompt=\"a lighthouse\""), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/q.db"))
    }

    func assertRefused(_ axes: String, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let db = dir + "/q.db"
        let start = Date()
        let r = try KilnProcess.run(["sweep", "--db", db, "--limit", "1000", try spec(axes)])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, file: file, line: line)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), r.stderr, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing is written", file: file, line: line)
    }

    func testBadTemplatesAreOneLineAndWriteNothing() throws {
        try assertRefused("  prompt: {combinatorial: 'a __bird__'}", mentioning: "__bird__ matches no .txt file")
        try assertRefused("  prompt: {combinatorial: 'a __loop_a__'}", mentioning: "cycle: __loop_a__ -> __loop_b__ -> __loop_a__")
        try assertRefused("  prompt: {file: nowhere.txt}", mentioning: "nowhere.txt cannot be read")
        // 10^30 expansions: counted, refused before anything is built.
        try assertRefused("  prompt: {combinatorial: '" + String(repeating: "{a|b|c|d|e|f|g|h|i|j}", count: 30) + "'}",
                          mentioning: "over the limit of 1000 jobs")
    }
}

/// The example template sweep queues, renders and reports alike on SQLite and PostgreSQL.
final class ExampleTemplateSweepTests: QueueTestCase {
    func testExampleTemplateSweepAndReport() throws {
        let examples = Fixtures.root + "/../../Examples"
        var reports: [[String]] = []
        try onEachBackend { _ in
            let db = try queue("t")
            let r = try KilnProcess.run(["sweep", "--db", db, examples + "/tiny-template-sweep.yaml"])
            XCTAssertEqual(r.stdout, "sweep 1: 20 jobs\n", r.stderr)
            XCTAssertEqual(try KilnProcess.run(["work", "--db", db, "--max-jobs", "2"]).status, 0)
            let sql = try String(contentsOfFile: examples + "/reports/by-template.sql", encoding: .utf8)
            let report = try KilnProcess.run(["report", "--db", db, "--sql", sql, "--format", "csv"])
            XCTAssertEqual(report.status, 0, report.stderr)
            // Timings aside: the first two jobs are the first expansion at seeds 1 and 2.
            let rows = report.stdout.split(separator: "\n").map { $0.split(separator: ",").dropLast().joined(separator: ",") }
            let template = "a {red|blue} __animal__ at __light/time__"
            XCTAssertEqual(rows.count, 3, report.stdout)
            XCTAssertTrue(rows[1].contains("1,1,1"), report.stdout)
            XCTAssertTrue(report.stdout.contains(template), report.stdout)
            reports.append(rows)
        }
        XCTAssertEqual(Set(reports.map { "\($0)" }).count, 1, "the same report on both databases")
    }
}
