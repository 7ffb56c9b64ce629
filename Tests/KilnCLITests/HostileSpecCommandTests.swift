import Foundation
import KilnTestSupport
import XCTest

/// `kiln sweep` refuses hostile specs quickly, before the queue is touched.
final class HostileSpecCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func assertRefusedQuickly(_ spec: String, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = dir + "/spec.yaml", db = dir + "/q.db"
        try spec.write(toFile: path, atomically: true, encoding: .utf8)
        let start = Date()
        let r = try KilnProcess.run(["sweep", "--db", db, path])
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, file: file, line: line)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), r.stderr, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing is written", file: file, line: line)
    }

    func testTenMillionListedValues() throws {
        let model = Fixtures.model("tiny-sdxl-base")
        try assertRefusedQuickly("model: \(model)\nbase: {prompt: a}\naxes: {seed: [" + String(repeating: "1,", count: 10_000_000) + "1]}\n",
                                 mentioning: "bytes, over the limit")
    }

    func testTenMillionCombinations() throws {
        let model = Fixtures.model("tiny-sdxl-base")
        try assertRefusedQuickly("model: \(model)\nbase: {prompt: a}\naxes: {seed: {from: 0, to: 9999999}}\n", mentioning: "axes.seed")
        try assertRefusedQuickly("model: \(model)\nbase: {prompt: a}\naxes: {seed: {from: -1, to: 9223372036854775807}}\n", mentioning: "axes.seed")
    }

    func testAliasBomb() throws {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { yaml += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        try assertRefusedQuickly(yaml + "model: m\nbase: {prompt: *a9}\n", mentioning: "YAML values")
    }
}
