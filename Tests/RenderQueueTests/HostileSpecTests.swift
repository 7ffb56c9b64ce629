import Foundation
import RenderQueue
import XCTest

/// Sweep specs built to crash or exhaust Kiln are refused quickly, naming the key.
final class HostileSpecTests: XCTestCase {
    func refusal(_ text: String, limit: Int = 1_000_000) -> String? {
        do { _ = try SweepSpec(text: text, limit: limit); return nil } catch { return "\(error)" }
    }

    func assertRefused(_ text: String, key: String, limit: Int = 1_000_000, file: StaticString = #filePath, line: UInt = #line) {
        guard let message = refusal(text, limit: limit) else { return XCTFail("accepted: \(text.prefix(200))", file: file, line: line) }
        XCTAssertTrue(message.contains("'\(key)'"), "'\(key)' in: \(message)", file: file, line: line)
        XCTAssertFalse(message.contains("\n"), file: file, line: line)
    }

    func testRangeSizeDoesNotOverflow() {
        assertRefused("model: m\nbase: {prompt: a}\naxes: {seed: {from: -1, to: 9223372036854775807}}", key: "axes.seed")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {seed: {from: -9223372036854775808, to: 9223372036854775807}}", key: "axes.seed")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {seed: {from: -9223372036854775808, to: 3}}", key: "axes.seed")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {seed: {from: -9223372036854775808, to: -9223372036854775807}}", key: "seed")
    }

    func testBillionLaughsIsRefusedQuickly() {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { yaml += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        yaml += "model: m\nbase: {prompt: *a9}\n"
        let start = Date()
        assertRefused(yaml, key: "(file)")
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
    }

    /// Found by Fuzz/run.sh (Fuzz/regressions/spec/complex-key.yaml): Yams' constructor stopped
    /// the process on a `? key` mapping key.
    func testComplexMappingKeysAreRefusedNotCrashed() throws {
        assertRefused("model: m\nbase:\n? prompt: a fox\n  steps: 10\n", key: "(file)")
        assertRefused("model: m\n? [a, b]\n: c\nbase: {prompt: a}\n", key: "(file)")
        let regression = try String(contentsOfFile: #filePath.replacingOccurrences(of: "Tests/RenderQueueTests/HostileSpecTests.swift", with: "Fuzz/regressions/spec/complex-key.yaml"), encoding: .utf8)
        assertRefused(regression, key: "(file)")
    }

    func testAFewAliasesStillWork() throws {
        let spec = try SweepSpec(text: "model: m\nbase: &b {prompt: a, steps: 2}\nzip: [{prompt: [a, b], seed: [1, 2]}]\n", limit: 10)
        XCTAssertEqual(spec.count, 2)
    }

    func testWrongTypesAreRefusedNamingTheKey() {
        assertRefused("model: m\npriority: high\nbase: {prompt: a}", key: "priority")
        assertRefused("model: m\npriority: 1.5\nbase: {prompt: a}", key: "priority")
        assertRefused("model: m\nrepeat: \"x\"\nbase: {prompt: a}", key: "repeat")
        assertRefused("model: m\nrepeat: true\nbase: {prompt: a}", key: "repeat")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {seed: {from: 1.5, to: 3}}", key: "axes.seed.from")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {seed: {from: 1, to: \"9\"}}", key: "axes.seed.to")
        assertRefused("model: m\nconfig: 5\nbase: {prompt: a}", key: "config")
        assertRefused("model: m\nname: [1]\nbase: {prompt: a}", key: "name")
        assertRefused("model: m\nrepeat: 100000000000\nbase: {prompt: a}", key: "repeat")
    }

    func testLongListsAreRefusedQuickly() {
        // 10^7 listed values: over the size limit, refused before parsing.
        let big = "model: m\nbase: {prompt: a}\naxes: {seed: [" + String(repeating: "1,", count: 10_000_000) + "1]}\n"
        var start = Date()
        assertRefused(big, key: "(file)")
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
        // Under the size limit but longer than --limit: refused before building requests.
        let long = "model: m\nbase: {prompt: a}\naxes: {seed: [" + String(repeating: "1,", count: 200_000) + "1]}\n"
        start = Date()
        assertRefused(long, key: "axes.seed", limit: 1000)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5.0)
    }
}
