import Foundation
import KilnTestSupport
import Pipelines
import RenderQueue
import XCTest

/// Sweep axes written as prompt templates and prompt files expand into the axis's list, and the
/// template is kept in each request.
final class SweepTemplateTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func requests(_ spec: SweepSpec) throws -> [RenderRequest] { try (0..<spec.count).map { try spec.request(at: $0) } }

    func testCombinatorialAxisWithWildcards() throws {
        let spec = try SweepSpec(text: """
            model: m
            wildcards: wildcards
            base: {seed: 1}
            axes:
              prompt: [plain, {combinatorial: "a {red|blue} __sub/weather__ barn"}]
              negative_prompt: {combinatorial: "{blurry|__colors*__}"}
              steps: [2, 3]
            """, limit: 1000, folder: Fixtures.root)
        // prompt: 1 + 2 * 8, negative: 1 + 5, steps: 2.
        XCTAssertEqual(spec.count, 17 * 6 * 2)
        let all = try requests(spec)
        XCTAssertEqual(all[0].prompt, "plain")
        XCTAssertNil(all[0].promptTemplate)
        let templated = all.filter { $0.promptTemplate != nil }
        XCTAssertEqual(templated.count, 16 * 6 * 2)
        XCTAssertTrue(templated.allSatisfy { $0.promptTemplate == "a {red|blue} __sub/weather__ barn" })
        XCTAssertEqual(Array(Set(templated.map(\.prompt))).count, 16)
        XCTAssertTrue(all.contains { $0.prompt == "a blue snow and fog barn" })
        XCTAssertEqual(Set(all.compactMap(\.negativePrompt)), ["blurry", "blue", "cyan", "green", "red", "teal"])
        // The expansion order is dynamicprompts': the first variant slowest.
        var seen = Set<String>()
        XCTAssertEqual(all.map(\.prompt).filter { seen.insert($0).inserted }.prefix(4),
                       ["plain", "a red dawn barn", "a red night barn", "a red rain and fog barn"])
    }

    func testTemplateIsStoredOnlyWhenUsed() throws {
        let spec = try SweepSpec(text: "model: m\nzip: [{prompt: [{combinatorial: '{a|b}'}], prompt_2: [x, y]}]\n", limit: 10)
        let all = try requests(spec)
        XCTAssertEqual(all.map(\.prompt), ["a", "b"])
        let stored = try JSONSerialization.jsonObject(with: JSONEncoder().encode(all[0])) as? [String: Any]
        XCTAssertEqual(stored?["prompt_template"] as? String, "{a|b}")
        let decoded = try JSONDecoder().decode(RenderRequest.self, from: JSONEncoder().encode(all[1]))
        XCTAssertEqual(decoded.promptTemplate, "{a|b}")
        // A request without a template encodes as before (its hash does not change).
        let plain = try JSONSerialization.jsonObject(with: JSONEncoder().encode(RenderRequest(prompt: "a"))) as? [String: Any]
        XCTAssertNil(plain?["prompt_template"])
    }

    func testPromptFileRelativeToTheSpec() throws {
        try FileManager.default.createDirectory(atPath: dir + "/lists", withIntermediateDirectories: true)
        try "# overnight\n\na lighthouse at dusk\r\n  a fox in snow  \n#skipped\nan empty road\n".write(toFile: dir + "/lists/p.txt", atomically: true, encoding: .utf8)
        let spec = try SweepSpec(text: "model: m\naxes: {prompt: {file: lists/p.txt}}\n", limit: 10, folder: dir)
        XCTAssertEqual(try requests(spec).map(\.prompt), ["a lighthouse at dusk", "a fox in snow", "an empty road"])
        XCTAssertTrue(try requests(spec).allSatisfy { $0.promptTemplate == nil })
    }

    func testRandomDrawsAreSeeded() throws {
        let text = "model: m\nwildcards: wildcards\naxes: {prompt: {random: 'a {0.2::red|blue} __sub/animal__', count: 12, seed: 7}}\n"
        let a = try requests(SweepSpec(text: text, limit: 100, folder: Fixtures.root))
        let b = try requests(SweepSpec(text: text, limit: 100, folder: Fixtures.root))
        XCTAssertEqual(a.count, 12)
        XCTAssertEqual(a.map(\.prompt), b.map(\.prompt))
        XCTAssertTrue(a.allSatisfy { $0.promptTemplate == "a {0.2::red|blue} __sub/animal__" && $0.prompt.hasPrefix("a ") })
        let other = try requests(SweepSpec(text: text.replacingOccurrences(of: "seed: 7", with: "seed: 8"), limit: 100, folder: Fixtures.root))
        XCTAssertNotEqual(a.map(\.prompt), other.map(\.prompt))
    }

    func assertRefused(_ text: String, _ words: [String], limit: Int = 50, folder: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SweepSpec(text: text, limit: limit, folder: folder ?? Fixtures.root), file: file, line: line) { error in
            for w in words { XCTAssertTrue("\(error)".contains(w), "'\(w)' in: \(error)", file: file, line: line) }
            XCTAssertFalse("\(error)".contains("\n"), "one line: \(error)", file: file, line: line)
        }
    }

    func testBadTemplatesAreRefusedNamingTheAxis() {
        assertRefused("model: m\nwildcards: wildcards\naxes: {prompt: {combinatorial: 'a __nope__'}}", ["axes.prompt", "__nope__", "matches no .txt file"])
        assertRefused("model: m\naxes: {prompt: {combinatorial: 'a __colors__'}}", ["axes.prompt", "no 'wildcards:' folder"])
        assertRefused("model: m\nwildcards: nowhere\naxes: {prompt: {combinatorial: 'a __colors__'}}", ["wildcards folder", "nowhere", "does not exist"])
        assertRefused("model: m\nbase: {prompt: a}\naxes: {steps: {combinatorial: '{1|2}'}}", ["axes.steps", "for prompts only"])
        assertRefused("model: m\naxes: {prompt: {combinatorial: '{a|b}', count: 2}}", ["axes.prompt", "count"])
        assertRefused("model: m\naxes: {prompt: {random: '{a|b}', count: 2}}", ["axes.prompt.seed", "required"])
        assertRefused("model: m\naxes: {prompt: {random: '{a|b}', count: 0, seed: 1}}", ["axes.prompt.count"])
        assertRefused("model: m\naxes: {prompt: {file: missing.txt}}", ["axes.prompt", "missing.txt", "cannot be read"])
        assertRefused("model: m\naxes: {prompt: {file: /dev/stdin}}", ["axes.prompt", "/dev/stdin", "not a regular file"])
        assertRefused("model: m\naxes: {prompt: {file: /dev/zero}}", ["axes.prompt", "not a regular file"])
        assertRefused("model: m\naxes: {prompt: {combinatorial: '{a|b|c|d|e|f|g|h}{a|b|c|d|e|f|g|h}'}}", ["axes.prompt", "64 prompts, over the limit of 50"])
        // Each object fits, together they do not.
        assertRefused("model: m\naxes: {prompt: [{combinatorial: '{a|b|c|d|e|f}{a|b|c|d|e}'}, {combinatorial: '{a|b|c|d|e|f}{a|b|c|d|e}'}]}", ["axes.prompt", "over the limit of 50"])
        // And the product with other axes is checked as before.
        assertRefused("model: m\naxes: {prompt: {combinatorial: '{a|b|c|d|e|f}{a|b|c|d|e}'}, steps: [1, 2]}", ["over the limit of 50"])
        assertRefused("model: m\naxes: {prompt: {combinatorial: '{a|b'}}", ["axes.prompt", "never closed"])
        assertRefused("model: m\nwildcards: [a]\naxes: {prompt: [a]}", ["wildcards", "must be a string"])
    }
}
