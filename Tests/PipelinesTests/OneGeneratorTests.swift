import Foundation
import Imaging
import KilnTestSupport
import Numerics
import Pipelines
import XCTest

/// The refiner continues the base's generator, as one `torch.Generator` passed to both diffusers
/// pipelines does (Tests/Fixtures/expected/one-generator.json, made so), for requests of version 3
/// on; stored requests of version 2 render as they always did, a generator per stage.
final class OneGeneratorTests: XCTestCase {
    static let cases: Result<[ModeParityTests.Case], Error> = Result {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("one-generator.json")))
        return try JSONDecoder().decode([ModeParityTests.Case].self, from: data)
    }

    func session(_ c: ModeParityTests.Case, models: ModelCache = ModelCache(), resuming state: DenoiseState? = nil) throws -> RenderSession {
        let (request, inputs) = try ModeParityTests.prepared(c)
        return try RenderSession(request: request, model: ModelReference(path: Fixtures.model(c.model)), inputs: inputs,
                                 models: models, resuming: state)
    }

    func images(_ session: RenderSession) throws -> [RGBImage] {
        guard case .images(let images) = try session.run() else { throw RenderError.invalid(parameter: "test", reason: "no images") }
        return images
    }

    func render(_ name: String) throws {
        let c = try XCTUnwrap(try OneGeneratorTests.cases.get().first { $0.name == name }, "no case \(name) in one-generator.json")
        XCTAssertEqual(c.request.version, 3)
        let result = PixelComparison(try images(try session(c)).map { ($0.width, $0.height, $0.pixels) },
                                     try Expected("one-generator-" + name).tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(name): \(result)")
    }

    func testBaseThenRefinerAncestral() throws { try render("base-then-refiner-euler-a-88x56") }
    func testBaseThenRefinerTwoImagesPerPrompt() throws { try render("base-then-refiner-euler-56x80-two-images") }
    func testEnsembleOfExpertsAncestral() throws { try render("ensemble-euler-a-72x104") }
    func testImageToImageEnsembleAncestral() throws { try render("img2img-ensemble-euler-a-64x48") }
    func testInpaintingEnsembleWithRefiner() throws { try render("inpaint-ensemble-euler-88x72") }
    func testInpaintingThenRefinerAncestral() throws { try render("inpaint-then-refiner-euler-a-64x48") }

    /// New requests are version 3; a decoded request keeps the version it was stored with.
    func testNewRequestsContinueTheGeneratorAndStoredOnesKeepTheirVersion() throws {
        XCTAssertEqual(RenderRequest(prompt: "p").version, RenderRequest.currentVersion)
        XCTAssertTrue(RenderRequest(prompt: "p").continuesGenerator)
        let v2 = try JSONDecoder().decode(RenderRequest.self, from: Data(#"{"prompt":"p","version":2}"#.utf8))
        XCTAssertEqual(v2.version, 2)
        XCTAssertFalse(v2.continuesGenerator)
        XCTAssertNotEqual(v2, RenderRequest(prompt: "p"), "the version is part of what a request renders")
        let v1 = try JSONDecoder().decode(RenderRequest.self, from: Data(#"{"prompt":"p","steps":4,"guidance":5,"guidanceRescale":0,"seed":1}"#.utf8))
        XCTAssertEqual(v1.version, 2, "version 1 rows have been written back as version 2")
        XCTAssertThrowsError(try JSONDecoder().decode(RenderRequest.self, from: Data(#"{"prompt":"p","version":4}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("newer kiln (version 4)"), "\($0)")
        }
    }

    /// Version 2 requests as the queue stored them: they code back to the same bytes (so their
    /// hashes and provenance stay), and render the image they rendered before version 3 (kept in
    /// expected/kiln-v2, rendered on the machine platform.json names: bit-identical there, within
    /// 1/255 elsewhere). A kernel change that moves bits renders them again once its own tests
    /// hold it to the reference: the float32 fused attention moved 2 pixels of inpaint-refiner.png
    /// by 1 level and left the other two images as they were.
    func testStoredVersionTwoRequestsRenderTheirOldImages() throws {
        struct Stored: Decodable { let name: String; let model: String; let stored: String }
        let stored = try JSONDecoder().decode([Stored].self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("kiln-v2/requests.json"))))
        let platform = try JSONDecoder().decode(PlatformRecord.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("kiln-v2/platform.json"))))
        let samePlatform = platform == PlatformRecord.current
        XCTAssertEqual(stored.count, 3)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for s in stored {
            let request = try JSONDecoder().decode(RenderRequest.self, from: Data(s.stored.utf8))
            XCTAssertEqual(request.version, 2)
            XCTAssertEqual(String(decoding: try encoder.encode(request), as: UTF8.self), s.stored, "\(s.name): stored request recoded differently")
            let rendered = try images(try session(ModeParityTests.Case(name: s.name, model: s.model, request: request)))
            let old = try PNGFile.read(Fixtures.expected("kiln-v2/\(s.name).png")).image
            XCTAssertEqual(rendered.count, 1)
            if samePlatform {
                XCTAssertTrue(rendered.first == old, "\(s.name): a version 2 request no longer renders its old image")
            } else {
                let result = PixelComparison(rendered.map { ($0.width, $0.height, $0.pixels) },
                                             Tensor(shape: [1, old.height, old.width, 3], scalars: old.pixels.map(Float.init)))
                XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(s.name): \(result)")
            }
        }
    }

    /// On any machine: a version 2 ensemble is exactly its base half and then a refiner-only
    /// render from those latents, each seeded with the seed; as version 3 it is not (the refiner's
    /// ancestral noise continues the base's generator).
    func testVersionTwoSeedsEachStageAnewAndVersionThreeDoesNot() throws {
        var request = try XCTUnwrap(try ModeParityTests.cases.get().first { $0.name == "ensemble-euler-a-08" }).request
        XCTAssertEqual(request.version, 2)
        request.refiner = Fixtures.model("tiny-sdxl-refiner")
        let base = ModelReference(path: Fixtures.model("tiny-sdxl-base")), models = ModelCache()
        func run(_ r: RenderRequest, _ model: ModelReference, _ inputs: RenderInputs = RenderInputs()) throws -> RenderOutput {
            try RenderSession(request: r, model: model, inputs: inputs, models: models).run()
        }
        var half = request
        half.refiner = nil; half.highNoiseFrac = nil; half.denoisingEnd = request.highNoiseFrac
        guard case .latents(let latents) = try run(half, base) else { return XCTFail("no latents") }
        var rest = half
        rest.denoisingEnd = nil; rest.denoisingStart = request.highNoiseFrac
        rest.latents = InputReference(sha256: "in memory", file: nil)
        guard case .images(let separate) = try run(rest, ModelReference(path: Fixtures.model("tiny-sdxl-refiner")), RenderInputs(latents: latents)),
              case .images(let v2) = try run(request, base) else { return XCTFail("no images") }
        XCTAssertTrue(v2 == separate, "version 2: each stage seeded anew")
        request.version = 3
        guard case .images(let v3) = try run(request, base) else { return XCTFail("no images") }
        XCTAssertFalse(v3 == v2, "version 3: the refiner continues the base's generator")
    }

    /// A checkpoint in the last base step, at the start of the refiner stage (the generator as the
    /// base left it, after the refiner's own first draws) or inside it resumes to the same bytes.
    func testResumeAcrossTheStageBoundaryIsBitIdentical() throws {
        let c = try XCTUnwrap(try OneGeneratorTests.cases.get().first { $0.name == "inpaint-then-refiner-euler-a-64x48" })
        let models = ModelCache()
        let straight = try images(try session(c, models: models))
        let probe = try session(c, models: models)
        let baseSteps = probe.stepCounts[0]
        XCTAssertEqual(probe.stepCounts.count, 2)
        for stop in [baseSteps - 1, baseSteps, baseSteps + 1] {
            let first = try session(c, models: models)
            while first.completedSteps < stop { try first.advance() }
            XCTAssertEqual(first.stageName, stop < baseSteps ? "base" : "refiner")
            let state = try JSONDecoder().decode(DenoiseState.self, from: try JSONEncoder().encode(first.snapshot()))
            let resumed = try session(c, models: ModelCache(), resuming: state)
            XCTAssertTrue(try images(resumed) == straight, "resumed after step \(stop) (\(state.stageName)) differs from the straight render")
        }
    }
}
