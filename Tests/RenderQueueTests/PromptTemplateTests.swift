import Foundation
import KilnTestSupport
@testable import RenderQueue
import XCTest

/// Prompt templates expand as dynamicprompts 0.31 expands them (Tests/Fixtures/expected/
/// dynamic-prompts.json, written by the library itself), and hostile templates are refused
/// before they are expanded.
final class PromptTemplateTests: XCTestCase {
    func expander(limit: Int = 1_000_000, folder: String? = Fixtures.path("wildcards")) -> PromptExpander {
        PromptExpander(folder: folder.map { WildcardFolder(root: URL(fileURLWithPath: $0)) }, limit: limit)
    }

    func testCombinatorialExpansionsMatchDynamicPrompts() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("dynamic-prompts.json")))
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try XCTUnwrap(fixture["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 40)
        for c in cases {
            let template = try XCTUnwrap(c["template"] as? String), expected = try XCTUnwrap(c["expansions"] as? [String])
            XCTAssertEqual(try expander().combinatorial(template), expected, template.debugDescription)
            // The count computed before expanding is exact for these (an upper bound in general).
            XCTAssertGreaterThanOrEqual(try expander().count(PromptTemplate.parse(template)), expected.count, template.debugDescription)
        }
    }

    func assertRefused(_ template: String, _ text: String, limit: Int = 1_000_000, folder: String? = Fixtures.path("wildcards"),
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expander(limit: limit, folder: folder).combinatorial(template), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(text), "'\(text)' in: \(error)", file: file, line: line)
            XCTAssertFalse("\(error)".contains("\n"), "one line: \(error)", file: file, line: line)
        }
    }

    func testUnsupportedSyntaxIsRefusedInOneLine() {
        assertRefused("a {b|c", "never closed")
        assertRefused("snake__case", "starts no wildcard")
        assertRefused("50% off", "'%'")
        assertRefused("${x=a} b", "variable")
        assertRefused("a # note", "comment")
        assertRefused("{~a|b}", "'~' sampler")
        assertRefused("{a$$b}", "no bound")
        assertRefused("__missing__", "matches no .txt file")
        assertRefused("{2$$__missing__}", "matches no .txt file")
        assertRefused("__colors__", "names no 'wildcards:' folder", folder: nil)
        assertRefused("__../colors__", "'..'")
        assertRefused(String(repeating: "{", count: 40) + "a" + String(repeating: "}", count: 40), "nested more than 32")
    }

    /// A product of 10^40 expansions is counted, not built: refused at once.
    func testHugeProductIsRefusedBeforeExpanding() {
        let start = Date()
        assertRefused(String(repeating: "{a|b|c|d|e|f|g|h|i|j}", count: 40), "over the limit of 1000", limit: 1000)
        assertRefused("{2-$$" + (0..<60).map { "w\($0)" }.joined(separator: "|") + "}", "over the limit of 1000000")
        assertRefused("{1-2$$__colors*__|__sub/animal__}", "expands to 71 prompts, over the limit of 10", limit: 10)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testWildcardCyclesAreRefused() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x\n__b__ again\n".write(toFile: dir + "/a.txt", atomically: true, encoding: .utf8)
        try "{y|__a__}\n".write(toFile: dir + "/b.txt", atomically: true, encoding: .utf8)
        try "__self*__\n".write(toFile: dir + "/self.txt", atomically: true, encoding: .utf8)
        assertRefused("__a__", "cycle: __a__ -> __b__ -> __a__", folder: dir)
        assertRefused("{2$$__b__}", "cycle", folder: dir)
        assertRefused("__self__", "cycle", folder: dir)
        XCTAssertThrowsError(try expander(folder: dir).random("__a__", count: 3, seed: 1)) { XCTAssertTrue("\($0)".contains("cycle"), "\($0)") }
    }

    func testOversizedWildcardFileIsRefusedBeforeReading() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A sparse file far over the limit: reading it would take seconds and gigabytes.
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/big.txt", contents: nil))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: dir + "/big.txt"))
        try handle.truncate(atOffset: 8 << 30)
        try handle.close()
        let start = Date()
        assertRefused("__big__", "over the limit of \(WildcardFolder.maxFileBytes)", folder: dir)
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }

    /// A link back to the folder's own parent is walked a bounded number of levels, then refused.
    func testLinkLoopInTheWildcardFolderIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/wc", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/wc/loop", withDestinationPath: dir + "/wc")
        let start = Date()
        assertRefused("__nothing__", "nested more than \(WildcardFolder.maxFolderDepth) folders deep", folder: dir + "/wc")
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testRandomDrawsAreDeterministicForTheSeed() throws {
        let template = "a {0.1::red|9::blue} __colors*__ {1-2$$ and $$x|y|z}"
        let a = try expander().random(template, count: 200, seed: 42)
        XCTAssertEqual(a, try expander().random(template, count: 200, seed: 42))
        XCTAssertNotEqual(a, try expander().random(template, count: 200, seed: 43))
        let all = Set(try expander().combinatorial(template))
        XCTAssertTrue(a.allSatisfy(all.contains), "every draw is one of the expansions")
        // Weights: blue (9) is drawn far more often than red (0.1).
        XCTAssertGreaterThan(a.filter { $0.hasPrefix("a blue") }.count, 150)
    }
}
