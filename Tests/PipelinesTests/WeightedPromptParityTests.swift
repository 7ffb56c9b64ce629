import Foundation
import KilnTestSupport
import Numerics
@testable import Pipelines
@testable import RenderRecord
import XCTest

/// `--prompt-weighting` against compel 2.5.1's `CompelForSDXL` on the tiny base model
/// (Tests/Fixtures/weighted_prompt_fixtures.py): embeddings within 1e-4 relative, and a render
/// given them equal to diffusers' within one level.
final class WeightedPromptParityTests: XCTestCase {
    struct Case: Decodable {
        let name: String, syntax: String, prompt: String
        let prompt_2: String?, negative_prompt: String?, negative_prompt_2: String?
        let tokens: [Int], length: Int
        /// compel's token indices of each weight other than 1 (the long cases).
        let weight_positions: [WeightPositions]?
    }
    struct WeightPositions: Decodable {
        let weight: Float, positions: [Int]
        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            weight = try c.decode(Float.self); positions = try c.decode([Int].self)
        }
    }
    struct BreakCase: Decodable { let name: String, prompt: String, chunks: Int }
    struct NoneCase: Decodable {
        let name: String, prompt: String, prompt_2: String?, negative_prompt: String?, negative_prompt_2: String?
        let embeddings: Bool, warnings: [String]
    }
    struct Render: Decodable { let steps: Int, width: Int, height: Int, seed: UInt64, guidance: Float }
    struct Break: Decodable { let prompt: String }
    struct Refiner: Decodable { let prompt: String, negative_prompt: String }
    struct Fixture: Decodable {
        let cases: [Case], render: Render, `break`: Break, breaks: [BreakCase], none: [NoneCase], refiner: Refiner
    }

    static let fixture: Fixture? = try? JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("weighted-prompts.json"))))
    static let base = ModelReference(path: Fixtures.model("tiny-sdxl-base"))
    static let models = ModelCache()

    func fixture() throws -> Fixture { try XCTUnwrap(WeightedPromptParityTests.fixture, "weighted-prompts.json") }

    /// `max |a - b| <= 1e-4 * max |b|`, shapes equal; gives `max |a - b| / max |b|`.
    @discardableResult
    func assertClose(_ a: Tensor?, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) -> Float {
        guard let a else { XCTFail("\(what): missing", file: file, line: line); return .infinity }
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return .infinity }
        var worst: Float = 0, scale: Float = 0
        for i in 0..<b.count {
            worst = max(worst, abs(a.unsafePointer[i] - b.unsafePointer[i]))
            scale = max(scale, abs(b.unsafePointer[i]))
        }
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "\(what): worst difference \(worst), scale \(scale)", file: file, line: line)
        return worst / scale
    }

    static func request(_ c: Case) throws -> RenderRequest {
        var r = RenderRequest(prompt: c.prompt)
        r.prompt2 = c.prompt_2
        r.negativePrompt = c.negative_prompt ?? ""
        r.negativePrompt2 = c.negative_prompt_2
        r.promptWeighting = try PromptWeighting(name: c.syntax)
        try r.validate()
        return r
    }

    func testEmbeddingsEqualCompelForSDXL() throws {
        let f = try fixture(), expected = try Expected("weighted-prompts")
        XCTAssertTrue(f.cases.contains { $0.tokens.contains { $0 > 75 } && $0.length >= 3 * 77 }, "a prompt over 75 tokens in three chunks")
        XCTAssertEqual(Set(f.cases.map(\.syntax)), ["compel", "a1111"])
        for syntax in ["compel", "a1111"] {
            let cases = f.cases.filter { $0.syntax == syntax }
            XCTAssertTrue(cases.contains { $0.tokens.allSatisfy { $0 <= 75 } }, "\(syntax): a short prompt")
            XCTAssertTrue(cases.contains { $0.tokens.contains { $0 > 75 } }, "\(syntax): a long prompt")
            XCTAssertTrue(cases.contains { $0.prompt_2 != nil }, "\(syntax): a prompt_2 of its own")
        }
        let model = try WeightedPromptParityTests.models.model(WeightedPromptParityTests.base)
        for c in f.cases {
            let embeds = try model.prompts.encode(try WeightedPromptParityTests.request(c), guidance: true)
            XCTAssertEqual(embeds.positive.shape[1], c.length, c.name)
            let worst = [assertClose(embeds.positive, try expected.tensor(c.name + ".embeds"), "\(c.name) embeds"),
                         assertClose(embeds.pooled, try expected.tensor(c.name + ".pooled_embeds"), "\(c.name) pooled"),
                         assertClose(embeds.negative, try expected.tensor(c.name + ".negative_embeds"), "\(c.name) negative"),
                         assertClose(embeds.negativePooled, try expected.tensor(c.name + ".negative_pooled_embeds"), "\(c.name) negative pooled")].max()!
            print("weighted prompt \(c.name): max relative error \(worst)")
        }
    }

    /// The long prompts' weights sit where compel puts them: `(great time)1.4` in the second
    /// 77-token chunk, `(dusty road)0.6` down-weighted, for the compel and the A1111 spelling.
    func testLongPromptWeightsInCompelsChunks() throws {
        let f = try fixture()
        let model = try WeightedPromptParityTests.models.model(WeightedPromptParityTests.base)
        let embedder = CompelEmbedder(model.prompts.pairs[0])
        let long = f.cases.filter { $0.weight_positions != nil }
        XCTAssertEqual(Set(long.map(\.name)), ["long", "a1111-long"])
        for c in long {
            let positions = try XCTUnwrap(c.weight_positions)
            let great = try XCTUnwrap(positions.first { $0.weight == 1.4 }, c.name)
            XCTAssertFalse(great.positions.isEmpty, c.name)
            XCTAssertTrue(great.positions.allSatisfy { (77..<154).contains($0) }, "\(c.name): 1.4 at \(great.positions), not in chunk 2")
            XCTAssertTrue(positions.contains { $0.weight == 0.6 && !$0.positions.isEmpty }, c.name)
            guard case .fragments(let fragments) = try PromptWeighting(name: c.syntax).parse(c.prompt, parameter: "prompt") else {
                return XCTFail("\(c.name): not fragments")
            }
            XCTAssertTrue(fragments.contains { $0.text.trimmingCharacters(in: .whitespaces) == "great time" && $0.weight == 1.4 }, "\(fragments)")
            let plan = try embedder.plan(fragments, parameter: "prompt")
            for p in positions {
                let kiln = plan.weights.indices.filter { Float(plan.weights[$0]) == p.weight }
                XCTAssertEqual(kiln, p.positions, "\(c.name): tokens weighted \(p.weight)")
            }
        }
    }

    /// A1111's BREAK: the chunks of each segment, one after the other, as compel gives each segment alone.
    func testBreakStartsANewChunk() throws {
        let f = try fixture(), expected = try Expected("weighted-prompts")
        let model = try WeightedPromptParityTests.models.model(WeightedPromptParityTests.base)
        var r = RenderRequest(prompt: f.break.prompt)
        r.promptWeighting = .a1111
        let embeds = try model.prompts.encode(r, guidance: false)
        XCTAssertEqual(embeds.positive.shape[1], 2 * 77)
        assertClose(embeds.positive, try expected.tensor("break.embeds"), "break embeds")
        assertClose(embeds.pooled, try expected.tensor("break.pooled_embeds"), "break pooled")
        // A segment past 75 tokens in compel's chunks, `BREAK BREAK` leaving an empty chunk, a
        // trailing BREAK adding none (A1111's tokenize_line).
        XCTAssertEqual(f.breaks.map(\.chunks), [5, 2])
        for c in f.breaks {
            r.prompt = c.prompt
            let embeds = try model.prompts.encode(r, guidance: false)
            XCTAssertEqual(embeds.positive.shape[1], c.chunks * 77, c.name)
            let worst = max(assertClose(embeds.positive, try expected.tensor(c.name + ".embeds"), "\(c.name) embeds"),
                            assertClose(embeds.pooled, try expected.tensor(c.name + ".pooled_embeds"), "\(c.name) pooled"))
            print("weighted prompt \(c.name): max relative error \(worst)")
        }
    }

    static func request(_ c: NoneCase) -> RenderRequest {
        var r = RenderRequest(prompt: c.prompt)
        r.prompt2 = c.prompt_2
        r.negativePrompt = c.negative_prompt
        r.negativePrompt2 = c.negative_prompt_2
        return r
    }

    /// `none` is diffusers' `encode_prompt`: a prompt past 77 tokens cut, and a `prompt_2` of its own.
    func testNoneEqualsDiffusersEncodePrompt() throws {
        let f = try fixture(), expected = try Expected("weighted-prompts")
        let model = try WeightedPromptParityTests.models.model(WeightedPromptParityTests.base)
        let cases = f.none.filter(\.embeddings)
        XCTAssertEqual(cases.map(\.name), ["none-long", "none-prompt2"])
        for c in cases {
            let embeds = try model.prompts.encode(WeightedPromptParityTests.request(c), guidance: true)
            let worst = [assertClose(embeds.positive, try expected.tensor(c.name + ".embeds"), "\(c.name) embeds"),
                         assertClose(embeds.pooled, try expected.tensor(c.name + ".pooled_embeds"), "\(c.name) pooled"),
                         assertClose(embeds.negative, try expected.tensor(c.name + ".negative_embeds"), "\(c.name) negative"),
                         assertClose(embeds.negativePooled, try expected.tensor(c.name + ".negative_pooled_embeds"), "\(c.name) negative pooled")].max()!
            print("weighted prompt \(c.name): max relative error \(worst)")
        }
    }

    /// The refiner's one text encoder: one compel over it, with its pooled output.
    func testRefinerEncoderEqualsCompel() throws {
        let f = try fixture(), expected = try Expected("weighted-prompts")
        let model = try WeightedPromptParityTests.models.model(ModelReference(path: Fixtures.model("tiny-sdxl-refiner")))
        var r = RenderRequest(prompt: f.refiner.prompt)
        r.negativePrompt = f.refiner.negative_prompt
        r.promptWeighting = .compel
        let embeds = try model.prompts.encode(r, guidance: true)
        for (got, key) in [(embeds.positive, "embeds"), (embeds.pooled, "pooled_embeds"), (embeds.negative, "negative_embeds"),
                           (embeds.negativePooled, "negative_pooled_embeds")] {
            assertClose(got, try expected.tensor("refiner." + key), "refiner \(key)")
        }
    }

    /// The long prompt (three chunks, a weight in the second, a down-weighted fragment) rendered:
    /// diffusers' pipeline given CompelForSDXL's embeddings gives the same pixels within one level.
    func testLongWeightedRenderEqualsDiffusersGivenCompelEmbeddings() throws {
        let f = try fixture()
        let c = try XCTUnwrap(f.cases.first { $0.name == "long" })
        var r = RenderRequest(prompt: c.prompt)
        r.negativePrompt = c.negative_prompt
        r.promptWeighting = .compel
        r.steps = f.render.steps; r.width = f.render.width; r.height = f.render.height
        r.seed = f.render.seed; r.guidance = f.render.guidance; r.watermark = false
        let session = try RenderSession(request: r, model: WeightedPromptParityTests.base, models: WeightedPromptParityTests.models)
        XCTAssertTrue(session.notices.isEmpty, "no truncation warning with weighting: \(session.notices)")
        guard case .images(let images) = try session.run() else { return XCTFail("no images") }
        let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("weighted-prompts").tensor("render.pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
        XCTAssertTrue(Provenance(session: session, imageIndex: 0, seconds: nil).parametersText.contains("Prompt weighting: compel"))
    }

    /// `none` stays diffusers: a long prompt is cut at 77 tokens, with the lines diffusers logs
    /// (captured from its logger: one per tokenizer that cuts, Python's repr of the cut text, so
    /// `["..."]` around an apostrophe), byte for byte, and Kiln's hint on a line after them.
    func testNoneTruncatesWithDiffusersWarning() throws {
        let f = try fixture()
        let model = try WeightedPromptParityTests.models.model(WeightedPromptParityTests.base)
        XCTAssertEqual(f.none.map(\.warnings.count), [2, 1, 2])
        XCTAssertTrue(f.none.contains { $0.warnings.contains { $0.hasSuffix("\"]") } }, "a warning in double quotes")
        XCTAssertTrue(f.none.contains { $0.warnings.contains { $0.contains("\\'") && $0.contains("\\\\") } }, "escapes")
        for c in f.none {
            let notices = model.prompts.truncationNotices(WeightedPromptParityTests.request(c))
            XCTAssertEqual(notices, c.warnings + [PromptEncoder.truncationHint], c.name)
            for (got, want) in zip(notices, c.warnings) { XCTAssertEqual(Array(got.utf8), Array(want.utf8), c.name) }
        }
        XCTAssertEqual(pythonRepr("a\tb\u{7}\u{85}\u{200B}é\u{1F600}\u{E000}'\""), #"'a\tb\x07\x85\u200bé😀\ue000\'"'"#)
        let c = try XCTUnwrap(f.cases.first { $0.name == "long" })
        var r = RenderRequest(prompt: c.prompt)
        XCTAssertEqual(try model.prompts.encode(r, guidance: false).positive.shape[1], 77)
        r.promptWeighting = .compel
        XCTAssertTrue(model.prompts.truncationNotices(r).isEmpty)
        XCTAssertTrue(model.prompts.truncationNotices(RenderRequest(prompt: "a red barn")).isEmpty)
        // What transformers 5's batch_decode gives for these ids on the tiny tokenizer.
        let tokenizer = model.prompts.pairs[0].tokenizer
        let text = "a day, the (great time)1.3 at dawn. hello: world \\ x <|endoftext|> é"
        XCTAssertEqual(tokenizer.decode(tokenizer.tokenIDs(text)), "a day , the ( great time ) 1 . 3 at dawn . hello : world \\ x <|endoftext|>é")
    }

    /// A prompt that would take too many text-encoder passes fails in one line, before encoding.
    func testEncodingBudgetIsOneLine() throws {
        let model = try WeightedPromptParityTests.models.model(WeightedPromptParityTests.base)
        var r = RenderRequest(prompt: String(repeating: "the red barn, ", count: 1200))
        r.promptWeighting = .compel
        XCTAssertThrowsError(try model.prompts.encode(r, guidance: false)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("prompt") && text.contains("chunks") && !text.contains("\n"), text)
        }
        r.prompt = String(repeating: "(red)0.5 barn ", count: 120)
        XCTAssertThrowsError(try model.prompts.encode(r, guidance: false)) { error in
            XCTAssertTrue("\(error)".contains("down-weight fewer fragments"), "\(error)")
        }
        // Blended prompts count together: 41 one-chunk prompts are 41 chunks.
        r.prompt = "(" + Array(repeating: "\"a cat\"", count: 41).joined(separator: ", ") + ").blend()"
        XCTAssertThrowsError(try model.prompts.encode(r, guidance: false)) { error in
            XCTAssertTrue("\(error)".contains("needs 41 chunks"), "\(error)")
        }
    }

    func testClipSkipWithWeightingIsOneLine() throws {
        var r = RenderRequest(prompt: "a cat+")
        r.promptWeighting = .compel
        r.clipSkip = 1
        XCTAssertThrowsError(try r.validate()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("clip-skip") && text.contains("prompt-weighting") && !text.contains("\n"), text)
        }
    }

    func testStoredOnlyWhenWeighting() throws {
        var r = RenderRequest(prompt: "a cat")
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(r), as: UTF8.self).contains("prompt_weighting"))
        r.promptWeighting = .a1111
        let json = try JSONEncoder().encode(r)
        XCTAssertTrue(String(decoding: json, as: UTF8.self).contains(#""prompt_weighting":"a1111""#))
        XCTAssertEqual(try JSONDecoder().decode(RenderRequest.self, from: json).promptWeighting, .a1111)
        let parameter = try XCTUnwrap(RenderParameters.all.first { $0.name == "prompt-weighting" })
        try parameter.apply(.text("compel"), to: &r)
        XCTAssertEqual(r.promptWeighting, .compel)
        XCTAssertThrowsError(try parameter.apply(.text("sd-webui"), to: &r)) { error in
            XCTAssertTrue("\(error)".contains("none, a1111 or compel"), "\(error)")
        }
    }
}
