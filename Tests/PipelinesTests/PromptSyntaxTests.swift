import Foundation
import KilnTestSupport
@testable import Pipelines
@testable import RenderRecord
import XCTest

/// The two prompt syntaxes of `--prompt-weighting`: A1111's against a table derived from its
/// `parse_prompt_attention` (its doctests and the rules of its source), compel's against what
/// compel 2.5.1 itself parses (Tests/Fixtures/expected/weighted-prompts.json).
final class PromptSyntaxTests: XCTestCase {
    static func f(_ t: String, _ w: Double) -> WeightedFragment { WeightedFragment(text: t, weight: w) }
    static let brk = WeightedFragment.breakMarker

    static let a1111: [(String, [WeightedFragment])] = [
        ("normal text", [f("normal text", 1)]),
        ("an (important) word", [f("an ", 1), f("important", 1.1), f(" word", 1)]),
        ("(unbalanced", [f("unbalanced", 1.1)]),
        ("\\(literal\\]", [f("(literal]", 1)]),
        ("(unnecessary)(parens)", [f("unnecessaryparens", 1.1)]),
        ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
         [f("a ", 1), f("house", 1.5730000000000004), f(" ", 1.1), f("on", 1.0), f(" a ", 1.1), f("hill", 0.55),
          f(", sun, ", 1.1), f("sky", 1.4641000000000006), f(".", 1.1)]),
        ("[x]", [f("x", 1 / 1.1)]),
        ("[[x]]", [f("x", 0.8264462809917354)]),
        ("((x))", [f("x", 1.2100000000000002)]),
        ("(x:1.3)", [f("x", 1.3)]),
        ("(a:-0.5) b", [f("a", -0.5), f(" b", 1)]),
        ("a (b:.5)", [f("a ", 1), f("b", 0.5)]),
        ("((a:1.5) b)", [f("a", 1.6500000000000001), f(" b", 1.1)]),
        ("a:b", [f("a:b", 1)]),
        // A1111's re_attention takes whitespace around the weight (`:\s*([+-]?[.\d]+)\s*\)`).
        ("(a: 1.3)", [f("a", 1.3)]),
        ("(a :\t1.3 ) b", [f("a ", 1.3), f(" b", 1)]),
        ("(a: 1.3 x)", [f("a: 1.3 x", 1.1)]),
        ("a: 1.3 )", [f("a: 1.3 )", 1)]),
        ("(a:١.٥)", [f("a", 1.5)]),
        ("a:1.3)", [f("a:1.3)", 1)]),
        ("a ]b[ c", [f("a ]b", 1), f(" c", 1 / 1.1)]),
        ("a\\b", [f("ab", 1)]),
        ("a\\\\b", [f("a\\b", 1)]),
        ("", [f("", 1)]),
        ("()", [f("", 1)]),
        ("a BREAK b", [f("a", 1), brk, f("b", 1)]),
        ("a  BREAK\n b", [f("a", 1), brk, f("b", 1)]),
        ("BREAK a", [f("", 1), brk, f("a", 1)]),
        ("a BREAK", [f("a", 1), brk, f("", 1)]),
        ("aBREAK b, BREAKING", [f("aBREAK b, BREAKING", 1)]),
        ("a,BREAK,b", [f("a,", 1), brk, f(",b", 1)]),
        ("(BREAK)", [f("", 1.1), f("BREAK", -1.1), f("", 1.1)]),
        ("(a BREAK b:1.2)", [f("a", 1.2), f("BREAK", -1.2), f("b", 1.2)]),
    ]

    func testA1111ParsesAsParsePromptAttention() throws {
        for (prompt, expected) in PromptSyntaxTests.a1111 {
            let got = try A1111Prompt.parse(prompt)
            XCTAssertEqual(got, expected, prompt.debugDescription)
            XCTAssertEqual(got.map(\.isBreak), expected.map(\.isBreak), prompt.debugDescription)
        }
    }

    func testA1111BadWeightIsOneLine() {
        XCTAssertThrowsError(try A1111Prompt.parse("(red:1.2.3) hair")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("1.2.3") && !text.contains("\n"), text)
        }
    }

    struct ParserCase: Decodable {
        struct Blend: Decodable { let prompts: [[[Frag]]], weights: [Double], normalize: Bool }
        let prompt: String
        let fragments: [[Frag]]?
        let blend: Blend?
        let and: [[[Frag]]]?
        let error: String?, unsupported: String?
        enum Frag: Decodable {
            case text(String), weight(Double)
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { self = .text(s) } else { self = .weight(try c.decode(Double.self)) }
            }
        }
    }

    func testCompelParsesAsCompel() throws {
        struct File: Decodable { let parser: [ParserCase] }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("weighted-prompts.json"))))
        XCTAssertGreaterThan(file.parser.count, 60)
        XCTAssertTrue(file.parser.contains { $0.blend != nil } && file.parser.contains { $0.and != nil })
        func fragments(_ list: [[ParserCase.Frag]]) -> [WeightedFragment] {
            list.map { pair -> WeightedFragment in
                guard case .text(let t) = pair[0], case .weight(let w) = pair[1] else { return PromptSyntaxTests.f("?", .nan) }
                return PromptSyntaxTests.f(t, w)
            }
        }
        for c in file.parser {
            if let list = c.fragments {
                XCTAssertEqual(try CompelPrompt.parse(c.prompt), .fragments(fragments(list)), c.prompt.debugDescription)
            } else if let b = c.blend {
                XCTAssertEqual(try CompelPrompt.parse(c.prompt), .blend(b.prompts.map(fragments), weights: b.weights, normalize: b.normalize),
                               c.prompt.debugDescription)
            } else if let parts = c.and {
                XCTAssertEqual(try CompelPrompt.parse(c.prompt), .and(parts.map(fragments)), c.prompt.debugDescription)
            } else {
                // compel raises, or gives what Kiln does not build (.swap, withLora, a weighted .and).
                XCTAssertThrowsError(try CompelPrompt.parse(c.prompt), c.prompt.debugDescription) { error in
                    let text = "\(error)"
                    XCTAssertTrue(!text.contains("\n") && text.contains("prompt"), text)
                    if c.unsupported != nil {
                        XCTAssertTrue(text.contains("not supported"), "\(c.prompt): \(text)")
                    }
                }
            }
        }
    }

    func testRefusedCompelOperatorsNameThemselves() {
        for (prompt, name) in [("(\"a cat\", \"a dog\").and(1, 0.5)", "weighted .and()"),
                               ("a cat.swap(dog)", ".swap()"), ("withLora(style, 0.5) a cat", "withLora()")] {
            XCTAssertThrowsError(try CompelPrompt.parse(prompt), prompt) { error in
                XCTAssertTrue("\(error)".contains(name), "\(prompt): \(error)")
            }
        }
    }

    /// Bad syntax is refused when the job is made (validate), one line naming the prompt.
    func testBadSyntaxRefusedAtValidation() {
        var r = RenderRequest(prompt: "fine")
        r.negativePrompt2 = "(\"a\", \"b\").blend(1)"
        r.promptWeighting = .compel
        XCTAssertThrowsError(try r.validate()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("negative-prompt-2") && text.contains(".blend()") && !text.contains("\n"), text)
        }
        r.negativePrompt2 = nil
        r.prompt = "a (red:x) barn \u{0B}"
        XCTAssertThrowsError(try r.validate(), "a vertical tab is outside compel's grammar")
        r.promptWeighting = .none
        XCTAssertNoThrow(try r.validate())
    }

    /// What A1111 reads besides its weights is refused in a1111 mode, one line naming it and what to do.
    /// Checked against A1111's own rules (prompt_parser.py's lark grammar, re_AND, re_weight,
    /// extra_networks.py's re_extra_net); negative prompts get only its scheduling, as A1111 gives them.
    static let a1111Refused: [(prompt: String, negative: Bool, names: [String])] = [
        ("a cat <lora:pixel_art:0.8>", false, ["'<lora:pixel_art:0.8>'", "--lora FILE:0.8"]),
        ("<lyco:style:0.5> a cat", false, ["'<lyco:style:0.5>'", "--lora FILE:0.5"]),
        ("<lora:style> a cat", false, ["'<lora:style>'", "--lora FILE"]),
        ("<hypernet:anime:1> a cat", false, ["'<hypernet:anime:1>'", "hypernetwork", "remove it"]),
        ("a cat <ti_x:2>", false, ["'<ti_x:2>'", "extra network"]),
        ("a cat AND a dog", false, ["'AND'", "composable diffusion"]),
        ("a cat, AND:1.2 a dog", false, ["'AND'"]),
        ("a cat :1.5", false, ["ends in ' :1.5'", "--guidance"]),
        ("a photo 16:9", false, ["ends in ':9'"]),
        ("a [cat:dog:0.5] in a field", false, ["'[cat:dog:0.5]'", "prompt editing"]),
        ("a [cat:5]", false, ["'[cat:5]'", "prompt editing"]),
        ("a [cat::0.5]", false, ["'[cat::0.5]'", "prompt editing"]),
        ("a [cat: 1e3 ] dog", false, ["'[cat: 1e3 ]'"]),
        ("((a][:b:c [d:3]", false, ["'[d:3]'"]),
        ("([cat:dog:4])", false, ["'[cat:dog:4]'"]),
        ("a [cat|dog] at night", false, ["'[cat|dog]'", "alternation", "{a|b}"]),
        ("[fe|]male", false, ["'[fe|]'", "alternation"]),
        ("[a|(b:1.1)]", false, ["'[a|(b:1.1)]'"]),
        ("blurry [ugly:3]", true, ["'[ugly:3]'", "prompt editing"]),
        ("blurry [ugly|bad]", true, ["'[ugly|bad]'", "alternation"]),
    ]
    /// Text A1111 leaves alone (or, in negative prompts, does not look at).
    static let a1111Kept: [(prompt: String, negative: Bool)] = [
        ("a [b:c] d", false), ("[a:b]", false), ("a [b:c:d:3]", false), ("[a|b:3]", false), ("(a|b)", false),
        ("a | b [c:1]", false), ("a [b:3] \\", false), ("\\[a:3\\]", false), ("a [b:3\\]", false),
        ("ANDROID, BRAND and android, AND_x, xAND", false), ("a <b> c", false), ("<:x>", false), ("< lora:x>", false),
        ("<lora:>", false), ("at 10:30 pm", false), ("a cat:", false), ("a:b:c", false), ("(a cat:1.5)", false),
        ("(a:1.2) [b] ((c)) \\(d\\)", false), ("[a:1.2.3]", false), ("a BREAK b", false), ("[a:b:c]", false),
        ("<lora:x:1> AND bad:2", true), ("blurry [a:b]", true),
    ]

    func testA1111ExtensionsRefusedInOneLine() throws {
        for c in PromptSyntaxTests.a1111Refused {
            var r = RenderRequest(prompt: c.negative ? "a cat" : c.prompt)
            if c.negative { r.negativePrompt = c.prompt }
            r.promptWeighting = .a1111
            XCTAssertThrowsError(try r.validate(), c.prompt) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(c.negative ? "negative-prompt" : "prompt") && !text.contains("\n"), text)
                for name in c.names { XCTAssertTrue(text.contains(name), "\(c.prompt): \(text)") }
            }
            r.promptWeighting = .none
            XCTAssertNoThrow(try r.validate(), "none takes it as text")
        }
        for c in PromptSyntaxTests.a1111Kept {
            var r = RenderRequest(prompt: c.negative ? "a cat" : c.prompt)
            if c.negative { r.negativePrompt = c.prompt }
            r.promptWeighting = .a1111
            XCTAssertNoThrow(try r.validate(), c.prompt)
        }
        // prompt-2 is read as the prompt.
        var r = RenderRequest(prompt: "a cat")
        r.prompt2 = "an oil painting <lora:x:1>"
        r.promptWeighting = .a1111
        XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".contains("prompt-2"), "\($0)") }
    }

    /// Deep nesting parses in linear time (each bracket read once), not once per alternative.
    /// and brackets nested past the limit are one line, not a stack overflow.
    func testDeepNestingIsQuick() throws {
        let n = CompelPrompt.maxNesting
        let prompt = String(repeating: "(", count: n) + "cat" + String(repeating: ")1.01", count: n)
        let start = Date()
        guard case .fragments(let fragments) = try CompelPrompt.parse(prompt) else { return XCTFail("not fragments") }
        XCTAssertEqual(fragments.count, 1)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertThrowsError(try CompelPrompt.parse(String(repeating: "(", count: 50_000) + "cat")) { error in
            XCTAssertTrue("\(error)".contains("nests brackets 50000 deep"), "\(error)")
        }
        XCTAssertEqual(try A1111Prompt.parse(String(repeating: "(", count: 300) + "cat").first?.text, "cat")
    }
}
