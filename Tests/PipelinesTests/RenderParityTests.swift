import Foundation
import Imaging
import KilnTestSupport
import ModelFiles
import Models
import Numerics
import Pipelines
import Schedulers
import XCTest

/// Whole text-to-image renders against diffusers' StableDiffusionXLPipeline on the tiny base model.
final class RenderParityTests: XCTestCase {
    static let models = ModelCache()
    static let base = ModelReference(path: Fixtures.model("tiny-sdxl-base"))

    func render(_ r: RenderRequest, progress: (Int, Int) -> Bool = { _, _ in true }) throws -> RenderOutput {
        try RenderSession(request: r, model: RenderParityTests.base, models: RenderParityTests.models).run(progress: progress)
    }

    struct Case: Decodable {
        let name: String
        let scheduler: String
        let seed: UInt64
        let watermark: Bool
        let args: [String: Arg]
    }

    enum Arg: Decodable {
        case number(Double), text(String), pair([Int])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Double.self) { self = .number(n) }
            else if let s = try? c.decode(String.self) { self = .text(s) }
            else { self = .pair(try c.decode([Int].self)) }
        }
        var number: Double? { if case .number(let n) = self { return n }; return nil }
        var text: String? { if case .text(let s) = self { return s }; return nil }
        /// diffusers sizes are (height, width); crops are (top, left).
        var size: PixelSize? { if case .pair(let p) = self { return PixelSize(width: p[1], height: p[0]) }; return nil }
        var crop: CropOffset? { if case .pair(let p) = self { return CropOffset(top: p[0], left: p[1]) }; return nil }
    }

    static func request(_ c: Case) throws -> RenderRequest {
        var r = RenderRequest(prompt: c.args["prompt"]?.text ?? "")
        r.prompt2 = c.args["prompt_2"]?.text
        r.negativePrompt = c.args["negative_prompt"]?.text
        r.negativePrompt2 = c.args["negative_prompt_2"]?.text
        r.width = c.args["width"]?.number.map { Int($0) }
        r.height = c.args["height"]?.number.map { Int($0) }
        r.steps = c.args["num_inference_steps"]?.number.map { Int($0) } ?? 50
        r.guidance = c.args["guidance_scale"]?.number.map { Float($0) } ?? 5
        r.guidanceRescale = c.args["guidance_rescale"]?.number.map { Float($0) } ?? 0
        r.clipSkip = c.args["clip_skip"]?.number.map { Int($0) }
        r.originalSize = c.args["original_size"]?.size
        r.cropTopLeft = c.args["crops_coords_top_left"]?.crop ?? .zero
        r.targetSize = c.args["target_size"]?.size
        r.negativeOriginalSize = c.args["negative_original_size"]?.size
        r.negativeCropTopLeft = c.args["negative_crops_coords_top_left"]?.crop ?? .zero
        r.negativeTargetSize = c.args["negative_target_size"]?.size
        r.images = c.args["num_images_per_prompt"]?.number.map { Int($0) } ?? 1
        r.seed = c.seed
        r.scheduler = try SchedulerKind(name: c.scheduler)
        r.watermark = c.watermark
        return r
    }

    func testRendersMatchDiffusersWithinOneLevel() throws {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("renders.json")))
        let cases = try JSONDecoder().decode([Case].self, from: data)
        XCTAssertGreaterThanOrEqual(cases.count, 12)
        for c in cases {
            guard case .images(let images) = try render(try RenderParityTests.request(c)) else {
                XCTFail("\(c.name): no images"); continue
            }
            let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("render-" + c.name).tensor("pixels"))
            XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(c.name): \(result)")
        }
    }

    func testDenoisingEndReturnsDiffusersLatents() throws {
        var r = RenderRequest(prompt: "a mountain lake")
        r.steps = 10
        r.denoisingEnd = 0.6
        r.seed = 21
        guard case .latents(let latents) = try render(r) else { return XCTFail("expected latents") }
        XCTAssertLessThanOrEqual(latents.relativeError(to: try Expected("render-denoising-end").image("latents")), 1e-4)
    }

    func testSameRequestTwiceIsBitIdenticalAndResumable() throws {
        var r = RenderRequest(prompt: "a red fox in the snow")
        r.steps = 4; r.seed = 3; r.scheduler = .dpmpp2m; r.negativePrompt = "rain"
        guard case .images(let a) = try render(r), case .images(let b) = try render(r) else { return XCTFail() }
        XCTAssertTrue(a == b)
        // Stop after step 2, keep only encoded bytes, continue in a fresh session.
        let session = try RenderSession(request: r, model: RenderParityTests.base, models: RenderParityTests.models)
        try session.advance()
        try session.advance()
        let saved = try JSONEncoder().encode(session.snapshot())
        let state = try JSONDecoder().decode(DenoiseState.self, from: saved)
        let resumed = try RenderSession(request: r, model: RenderParityTests.base, models: ModelCache(), resuming: state)
        XCTAssertEqual(resumed.completedSteps, 2)
        guard case .images(let c) = try resumed.run() else { return XCTFail() }
        XCTAssertTrue(a == c)
    }

    func testCancellationStopsAtTheNextStep() throws {
        var r = RenderRequest(prompt: "x")
        r.steps = 5
        var seen = 0
        XCTAssertThrowsError(try render(r) { step, _ in seen = step; return step < 2 }) { XCTAssertEqual($0 as? RenderError, .cancelled) }
        XCTAssertEqual(seen, 2)
    }
}
