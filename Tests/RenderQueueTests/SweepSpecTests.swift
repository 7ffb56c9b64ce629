import Foundation
import KilnTestSupport
import Pipelines
import RenderQueue
import XCTest

final class SweepSpecTests: XCTestCase {
    func testThreeAxesGiveTheProduct() throws {
        let spec = try SweepSpec(text: """
            model: m
            base: {prompt: a cat, steps: 4}
            axes:
              seed: {from: 10, to: 14}
              scheduler: [euler, ddim, unipc]
              guidance: [1.5, 5, 9]
            """, limit: 1000)
        XCTAssertEqual(spec.count, 45)
        let requests = try (0..<spec.count).map { try spec.request(at: $0) }
        XCTAssertEqual(Set(requests.map { "\($0.seed)-\($0.scheduler!.rawValue)-\($0.effectiveGuidance)" }).count, 45)
        XCTAssertTrue(requests.allSatisfy { $0.prompt == "a cat" && $0.steps == 4 })
    }

    func testZipAndRepeat() throws {
        let spec = try SweepSpec(text: #"{"model": "m", "repeat": 2, "base": {"seed": 1}, "zip": [{"prompt": ["a", "b", "c"], "negative_prompt": ["x", "y", "z"]}], "axes": {"steps": [2, 3]}}"#, limit: 100)
        XCTAssertEqual(spec.count, 12)
        let pairs = try (0..<12).map { i -> String in let r = try spec.request(at: i); return r.prompt + (r.negativePrompt ?? "") }
        XCTAssertEqual(Set(pairs), ["ax", "by", "cz"])
    }

    func assertRefused(_ text: String, key: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try { let s = try SweepSpec(text: text, limit: 50); _ = try (0..<s.count).map { try s.request(at: $0) } }(), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(key), "'\(key)' in: \(error)", file: file, line: line)
        }
    }

    func testBadSpecsNameTheKey() {
        assertRefused("model: m\nbase: {prompt: a, sharpness: 3}", key: "base.sharpness")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {seed: []}", key: "axes.seed")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {width: [64, 100]}", key: "width")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {scheduler: [euler, plms]}", key: "scheduler")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {seed: {from: 1, to: 1000}}", key: "axes.seed")
        assertRefused("model: m\nbase: {prompt: a}\naxes: {seed: {from: 1, to: 10}, steps: [1, 2, 3, 4, 5, 6]}", key: "over the limit of 50")
        assertRefused("model: m\nbase: {prompt: a}\nzip: [{prompt: [a, b], seed: [1]}]", key: "zip[0]")
        assertRefused("base: {prompt: a}", key: "model")
        assertRefused("model: m\nbase: {steps: 2}", key: "prompt")
        assertRefused("model: m\nbase: {prompt: a}\nextra: 1", key: "extra")
        assertRefused("model: m\nbase: [oops", key: "(file)")
    }
}
