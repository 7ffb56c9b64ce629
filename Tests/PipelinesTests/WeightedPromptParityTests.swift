import Foundation
import KilnTestSupport
import Numerics
@testable import Pipelines
import XCTest

/// `--prompt-weighting` against compel 2.5.1's `CompelForSDXL` on the tiny base model
/// (Tests/Fixtures/weighted_prompt_fixtures.py): embeddings within 1e-4 relative, and a render
/// given them equal to diffusers' within one level.
final class WeightedPromptParityTests: XCTestCase {
    struct Case: Decodable {
        let name: String, syntax: String, prompt: String
        let prompt_2: String?, negative_prompt: String?, negative_prompt_2: String?
        let tokens: [Int], length: Int
    }
    struct Render: Decodable { let steps: Int, width: Int, height: Int, seed: UInt64, guidance: Float }
    struct Break: Decodable { let prompt: String }
    struct Refiner: Decodable { let prompt: String, negative_prompt: String }
    struct Fixture: Decodable { let cases: [Case], render: Render, `break`: Break, refiner: Refiner }

    static let fixture: Fixture? = try? JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("weighted-prompts.json"))))
    static let base = ModelReference(path: Fixtures.model("tiny-sdxl-base"))
    static let models = ModelCache()

    func fixture() throws -> Fixture { try XCTUnwrap(WeightedPromptParityTests.fixture, "weighted-prompts.json") }

    /// `max |a - b| <= 1e-4 * max |b|`, shapes equal.
    func assertClose(_ a: Tensor?, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let a else { return XCTFail("\(what): missing", file: file, line: line) }
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return }
        var worst: Float = 0, scale: Float = 0
        for i in 0..<b.count {
            worst = max(worst, abs(a.unsafePointer[i] - b.unsafePointer[i]))
            scale = max(scale, abs(b.unsafePointer[i]))
        }
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "\(what): worst difference \(worst), scale \(scale)", file: file, line: line)
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
        let model = try WeightedPromptParityTests.models.model(WeightedPromptParityTests.base)
        for c in f.cases {
            let embeds = try model.prompts.encode(try WeightedPromptParityTests.request(c), guidance: true)
            XCTAssertEqual(embeds.positive.shape[1], c.length, c.name)
            assertClose(embeds.positive, try expected.tensor(c.name + ".embeds"), "\(c.name) embeds")
            assertClose(embeds.pooled, try expected.tensor(c.name + ".pooled_embeds"), "\(c.name) pooled")
            assertClose(embeds.negative, try expected.tensor(c.name + ".negative_embeds"), "\(c.name) negative")
            assertClose(embeds.negativePooled, try expected.tensor(c.name + ".negative_pooled_embeds"), "\(c.name) negative pooled")
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

    /// `none` stays diffusers: the long prompt is cut at 77 tokens, with diffusers' warning.
    func testNoneTruncatesWithDiffusersWarning() throws {
        let f = try fixture()
        let c = try XCTUnwrap(f.cases.first { $0.name == "long" })
        let model = try WeightedPromptParityTests.models.model(WeightedPromptParityTests.base)
        var r = RenderRequest(prompt: c.prompt)
        let notices = model.prompts.truncationNotices(r)
        XCTAssertEqual(notices.count, 1, "\(notices)")
        let notice = try XCTUnwrap(notices.first)
        XCTAssertTrue(notice.hasPrefix("The following part of your input was truncated because CLIP can only handle sequences up to 77 tokens: ['"), notice)
        XCTAssertTrue(notice.contains("what a day to be here with the ones we love']"), notice)
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
