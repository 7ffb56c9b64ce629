import Foundation
import Imaging
import KilnTestSupport
import ModelFiles
import Numerics
import Pipelines
import XCTest

/// Image-to-image, inpainting and the refiner against diffusers' own pipelines on the tiny
/// fixture models (Tests/Fixtures/expected/modes.json: the Kiln request and diffusers' image).
final class ModeParityTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let model: String
        let request: RenderRequest
    }

    static let cases: Result<[Case], Error> = Result {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("modes.json")))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    /// The request with fixture model names made paths, and its inputs read from the fixture images.
    static func prepared(_ c: Case) throws -> (RenderRequest, RenderInputs) {
        var r = c.request
        if let refiner = r.refiner { r.refiner = Fixtures.model(refiner) }
        func file(_ ref: InputReference?) throws -> (data: Data, name: String)? {
            guard let ref, let name = ref.file else { return nil }
            let path = Fixtures.path("images/\(name)")
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            XCTAssertEqual(SHA256.hex(data), ref.sha256, "\(name): fixture bytes changed")
            return (data, path)
        }
        let inputs = try InputFiles.decode(image: try file(r.image), mask: try file(r.mask), latents: nil)
        return (r, inputs)
    }

    func render(_ name: String, models: ModelCache = ModelCache()) throws {
        let all = try ModeParityTests.cases.get()
        let c = try XCTUnwrap(all.first { $0.name == name }, "no case \(name) in modes.json")
        let (request, inputs) = try ModeParityTests.prepared(c)
        let session = try RenderSession(request: request, model: ModelReference(path: Fixtures.model(c.model)), inputs: inputs, models: models)
        guard case .images(let images) = try session.run() else { return XCTFail("\(name): no images") }
        let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("mode-" + name).tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(name): \(result)")
    }

    func testImageToImageFromRGBAInputOfOddSize() throws { try render("img2img-rgba-03") }
    func testImageToImageFromJPEGWithMultistepScheduler() throws { try render("img2img-jpeg-075") }
    func testRefinerImageToImageWithAestheticScore() throws { try render("refiner-img2img") }
    func testInpaintingWithFourChannelUNet() throws { try render("inpaint-4ch") }
    func testInpaintingWithFourChannelUNetAtHalfStrength() throws { try render("inpaint-4ch-half") }
    func testInpaintingWithNineChannelUNet() throws { try render("inpaint-9ch") }
    func testInpaintingWithPaddingMaskCropPastesBackAtTheInputSize() throws { try render("inpaint-9ch-crop") }
    func testEnsembleOfExpertsAncestral() throws { try render("ensemble-euler-a-08") }
    func testEnsembleOfExpertsMultistep() throws { try render("ensemble-dpmpp-07") }
    func testEnsembleOfExpertsSecondOrder() throws { try render("ensemble-heun-075") }
    func testBaseThenRefiner() throws { try render("base-then-refiner") }
    func testInpaintingWithRefiner() throws { try render("inpaint-refiner") }

    /// Stopping in the refiner stage and continuing from the encoded state gives the same pixels.
    func testResumeInsideTheRefinerStageIsBitIdentical() throws {
        let all = try ModeParityTests.cases.get()
        let c = try XCTUnwrap(all.first { $0.name == "inpaint-refiner" })
        let (request, inputs) = try ModeParityTests.prepared(c)
        let model = ModelReference(path: Fixtures.model(c.model))
        let models = ModelCache()
        guard case .images(let straight) = try RenderSession(request: request, model: model, inputs: inputs, models: models).run() else {
            return XCTFail("no images")
        }
        let session = try RenderSession(request: request, model: model, inputs: inputs, models: models)
        while session.stage == 0 || session.completedSteps < session.stepCounts[0] + 1 { try session.advance() }
        XCTAssertEqual(session.stageName, "refiner")
        let saved = try JSONEncoder().encode(session.snapshot())
        let state = try JSONDecoder().decode(DenoiseState.self, from: saved)
        XCTAssertEqual(state.stageName, "refiner")
        let resumed = try RenderSession(request: request, model: model, inputs: inputs, models: ModelCache(), resuming: state)
        guard case .images(let again) = try resumed.run() else { return XCTFail("no images") }
        XCTAssertTrue(straight == again, "resumed refiner stage differs from the straight render")
    }

    /// With a budget below base + refiner, the refiner stage runs after the base is dropped, and
    /// the components both share (same content hash: text_encoder_2, VAE) are held once.
    func testMemoryBudgetHoldsOneModelPlusSharedParts() throws {
        let base = try StageModel(ModelReference(path: Fixtures.model("tiny-sdxl-base")))
        let refiner = try StageModel(ModelReference(path: Fixtures.model("tiny-sdxl-refiner")))
        let shared = Set(base.componentBytes.keys).intersection(refiner.componentBytes.keys)
        XCTAssertEqual(shared.count, 2, "text_encoder_2 and vae should be shared: \(shared)")
        let sum = base.componentBytes.values.reduce(0, +) + refiner.componentBytes.values.reduce(0, +)
        let sharedBytes = shared.reduce(0) { $0 + (base.componentBytes[$1] ?? 0) }
        let larger = max(base.componentBytes.values.reduce(0, +), refiner.componentBytes.values.reduce(0, +))
        let unlimited = ModelCache()
        try render("ensemble-dpmpp-07", models: unlimited)
        XCTAssertEqual(unlimited.peakBytes, sum - sharedBytes)
        let tight = ModelCache(maxBytes: sum - sharedBytes - 1)
        try render("ensemble-dpmpp-07", models: tight)
        XCTAssertLessThanOrEqual(tight.peakBytes, larger)  // each model's size includes the shared parts
        XCTAssertLessThan(tight.peakBytes, unlimited.peakBytes)
    }
}

/// The parameter table is the one list of names the command line and sweeps use.
final class RenderParameterTableTests: XCTestCase {
    func testEveryParameterIsNamedOnceAndRoundTripsThroughItsText() throws {
        let names = RenderParameters.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        // Parameters are added by several hands at once; none may disappear (39 with eta, issue 17).
        XCTAssertGreaterThanOrEqual(names.count, 39)
        for p in RenderParameters.all {
            XCTAssertEqual(RenderParameters.named(p.name)?.name, p.name)
            XCTAssertEqual(RenderParameters.named(p.column)?.name, p.name)
            XCTAssertEqual(RenderParameters.named(p.key)?.name, p.name, "diffusers name \(p.key)")
        }
        var r = RenderRequest(prompt: "x")
        try RenderParameters.named("num_inference_steps")?.apply(.number(12), to: &r)
        try RenderParameters.named("high-noise-frac")?.apply(.text("0.75"), to: &r)
        try RenderParameters.named("original_size")?.apply(.text("640x480"), to: &r)
        XCTAssertEqual(r.steps, 12)
        XCTAssertEqual(r.highNoiseFrac, 0.75)
        XCTAssertEqual(r.originalSize, PixelSize(width: 640, height: 480))
        XCTAssertThrowsError(try RenderParameters.named("strength")?.apply(.text("high"), to: &r)) {
            XCTAssertEqual($0 as? RenderError, .invalid(parameter: "strength", reason: "must be a number, not 'high'"))
        }
        // Stored with diffusers' argument names, sizes as (height, width).
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        XCTAssertTrue(json.contains("\"num_inference_steps\":12") && json.contains("\"original_size\":[480,640]"), json)
        XCTAssertEqual(try JSONDecoder().decode(RenderRequest.self, from: Data(json.utf8)), r)
    }

    func testVersionOneRequestsStillDecode() throws {
        let v1 = #"{"prompt":"a fox","steps":20,"guidance":7,"guidanceRescale":0,"seed":3,"cropTopLeft":{"top":0,"left":0},"negativeCropTopLeft":{"top":0,"left":0},"originalSize":{"width":640,"height":480},"images":1,"watermark":false}"#
        let r = try JSONDecoder().decode(RenderRequest.self, from: Data(v1.utf8))
        XCTAssertEqual(r.steps, 20)
        XCTAssertEqual(r.guidance, 7)
        XCTAssertEqual(r.originalSize, PixelSize(width: 640, height: 480))
        XCTAssertFalse(r.watermark)
    }
}

/// Limits on what a request can make Kiln store and process.
final class RequestLimitTests: XCTestCase {
    func testOverlongPromptsAreRefusedNamingTheParameter() {
        var r = RenderRequest(prompt: String(repeating: "a fox ", count: 20_000))
        XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".hasPrefix("prompt: is 120000 bytes"), "\($0)") }
        r.prompt = "a fox"
        r.negativePrompt2 = String(repeating: "x", count: 100_001)
        XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".hasPrefix("negative-prompt-2:"), "\($0)") }
        r.negativePrompt2 = String(repeating: "x", count: 100_000)
        XCTAssertNoThrow(try r.validate())
    }
}
