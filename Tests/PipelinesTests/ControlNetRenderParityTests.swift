import Foundation
import Imaging
import KilnTestSupport
import ModelFiles
import Models
import Numerics
import Pipelines
import XCTest

/// Whole text-to-image renders with ControlNet against diffusers' StableDiffusionXLControlNetPipeline
/// on the tiny base (Tests/Fixtures/expected/controlnet-renders.json: Kiln's request and the
/// fixture names; controlnet_fixtures.py made the images).
final class ControlNetRenderParityTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let request: RenderRequest
        /// The fixture model rendered (controlnet-inpaint.json); nil: tiny-sdxl-base.
        var model: String?
    }

    /// controlnet-refiner.json: the ControlNet pipeline's latents finished by the tiny refiner.
    static let cases: Result<[Case], Error> = Result {
        try ["controlnet-renders.json", "controlnet-refiner.json", "controlnet-inpaint.json"].flatMap { file in
            let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.expected(file)))
            return try JSONDecoder().decode([Case].self, from: data)
        }
    }

    /// The case's request with fixture names made paths, and its control images read.
    static func prepared(_ name: String) throws -> (RenderRequest, RenderInputs) {
        let c = try XCTUnwrap(try cases.get().first { $0.name == name }, "no case \(name)")
        var r = c.request
        r.controlnet.models = r.controlnet.models.map(Fixtures.model)
        r.refiner = r.refiner.map(Fixtures.model)
        var inputs = RenderInputs()
        for ref in r.controlnet.images {
            let path = Fixtures.path("images/\(ref.file ?? "")")
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            XCTAssertEqual(SHA256.hex(data), ref.sha256, "\(path): fixture bytes changed")
            inputs.controlImages.append(try ImageFile.read(data: data, name: path))
        }
        if let ref = r.image {
            let path = Fixtures.path("images/\(ref.file ?? "")")
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            XCTAssertEqual(SHA256.hex(data), ref.sha256, "\(path): fixture bytes changed")
            inputs.image = try ImageFile.read(data: data, name: path)
        }
        if let ref = r.mask {
            let path = Fixtures.path("images/\(ref.file ?? "")")
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            XCTAssertEqual(SHA256.hex(data), ref.sha256, "\(path): fixture bytes changed")
            inputs.mask = try ImageFile.read(data: data, name: path)
        }
        return (r, inputs)
    }

    /// `controlnets`: folders rendered instead of the case's ControlNets.
    func render(_ name: String, controlnets: [String]? = nil) throws {
        var (request, inputs) = try Self.prepared(name)
        if let controlnets { request.controlnet.models = controlnets }
        let model = try Self.cases.get().first { $0.name == name }?.model ?? "tiny-sdxl-base"
        let session = try RenderSession(request: request, model: ModelReference(path: Fixtures.model(model)),
                                        inputs: inputs, models: ModelCache())
        let output = try session.run()
        if case .latents(let latents) = output, request.denoisingEnd != nil {
            // denoising_end: the latents a base stage hands over (diffusers' output_type="latent").
            let error = latents.relativeError(to: try Expected("controlnet-" + name).image("latents"))
            XCTAssertLessThanOrEqual(error, 1e-4, name)
            return print("controlnet-\(name): latents' relative error \(error)")
        }
        guard case .images(let images) = output else { return XCTFail("\(name): no images") }
        let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("controlnet-" + name).tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(name): \(result)")
        print("controlnet-\(name): \(result)")
    }

    func testOneControlNetSizedByItsOddControlImage() throws { try render("one") }
    func testTwoControlNetsWithAScaleEach() throws { try render("two") }
    func testAGuidanceWindow() throws { try render("window") }
    func testTwoControlNetsWithAWindowEach() throws { try render("two-windows") }
    func testGuessMode() throws { try render("guess") }
    func testAControlImageResizedToAnotherOddSize() throws { try render("resized") }
    func testGuessModeWithTwoControlNetsAndTwoImagesPerPrompt() throws { try render("guess-two-images") }
    /// StableDiffusionXLControlNetImg2ImgPipeline: its defaults (strength 0.8, scale 0.8), and
    /// two ControlNets in guess mode with a window over the steps left after the strength cut.
    func testImageToImageWithThePipelinesDefaults() throws { try render("img2img") }
    func testImageToImageWithTwoControlNetsGuessModeAndAWindow() throws { try render("img2img-two-guess") }
    /// StableDiffusionXLControlNetInpaintPipeline: its defaults (strength 0.9999, scale 1.0, guidance
    /// 5.0, not the inpainting pipeline's 7.5) on the 4-channel base; the ControlNets get the 4-channel
    /// latents beside a 9-channel UNet; padding_mask_crop crops the control image as the input; the
    /// windows count the steps after denoising_start's cut and before denoising_end's.
    func testInpaintingWithThePipelinesDefaults() throws { try render("inpaint") }
    func testNineChannelInpaintingTwoControlNetsGuessModeWindowAndRescale() throws { try render("inpaint-9ch-two-guess") }
    func testInpaintingWithPaddingMaskCropAtFullStrength() throws { try render("inpaint-crop") }
    func testNineChannelInpaintingWithPaddingMaskCrop() throws { try render("inpaint-9ch-crop") }
    func testInpaintingWithDenoisingStartAndEndAndTwoWindows() throws { try render("inpaint-start-end") }

    /// A ControlNet whose config sets `global_pool_conditions` (a copy of tiny-controlnet, as the
    /// fixture's pipeline had it): the other SDXL ControlNet pipelines then force guess mode, the
    /// inpainting one does not, though the ControlNet still pools its residuals.
    func testInpaintingWithAPooledControlNetDoesNotForceGuessMode() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = Fixtures.model("tiny-controlnet")
        for file in try FileManager.default.contentsOfDirectory(atPath: source) where file != "config.json" {
            try FileManager.default.copyItem(atPath: source + "/" + file, toPath: dir + "/" + file)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: source + "/config.json"))
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        config["global_pool_conditions"] = true
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try render("inpaint-pooled", controlnets: [dir])
    }

    /// With the refiner, as diffusers chains them: the ControlNet pipeline's latents
    /// (`output_type="latent"`) to StableDiffusionXLImg2ImgPipeline with the refiner, without
    /// control, one generator through both calls (ancestral steps draw from it).
    func testBaseThenRefinerWithoutControl() throws { try render("refiner-after") }
    /// The ensemble of experts: `denoising_end` on the ControlNet pipeline, whose windows count over
    /// the whole schedule, then the refiner from `denoising_start`.
    func testEnsembleOfExpertsWithTwoControlNetsAndWindows() throws { try render("refiner-ensemble") }
    func testImageToImageThenRefinerTwoImagesPerPrompt() throws { try render("img2img-refiner-after") }
    /// StableDiffusionXLControlNetInpaintPipeline's latents to the refiner as
    /// StableDiffusionXLInpaintPipeline with the same mask: the ensemble (the window counted before
    /// the denoising_end cut) and base then refiner with ancestral steps.
    func testInpaintingEnsembleWithTheRefiner() throws { try render("inpaint-refiner-ensemble") }
    func testInpaintingThenRefinerAncestral() throws { try render("inpaint-refiner-after") }

    /// Saved in the ControlNet stage and resumed in a fresh session, and saved again in the
    /// refiner's, an ensemble render gives the same bits as a straight one.
    func testResumeAcrossTheStagesWithTheRefinerIsBitIdentical() throws {
        let (request, inputs) = try Self.prepared("refiner-ensemble")
        let model = ModelReference(path: Fixtures.model("tiny-sdxl-base"))
        guard case .images(let straight) = try RenderSession(request: request, model: model, inputs: inputs, models: ModelCache()).run() else {
            return XCTFail("no images")
        }
        var session = try RenderSession(request: request, model: model, inputs: inputs, models: ModelCache())
        for stop in [3, 9] {
            while session.completedSteps < stop { try session.advance() }
            let state = try JSONDecoder().decode(DenoiseState.self, from: try JSONEncoder().encode(session.snapshot()))
            session = try RenderSession(request: request, model: model, inputs: inputs, models: ModelCache(), resuming: state)
        }
        XCTAssertEqual(session.stage, 1, "the second save was in the refiner's stage")
        guard case .images(let again) = try session.run() else { return XCTFail("no images") }
        XCTAssertTrue(straight == again, "resumed render with the refiner differs from the straight one")
    }

    /// Saved after a step inside a guidance window and resumed in a fresh session (its own model
    /// cache, as another worker would), a two-ControlNet render gives the same bits.
    func testResumeMidRenderIsBitIdentical() throws {
        let (request, inputs) = try Self.prepared("two-windows")
        let model = ModelReference(path: Fixtures.model("tiny-sdxl-base"))
        guard case .images(let straight) = try RenderSession(request: request, model: model, inputs: inputs, models: ModelCache()).run() else {
            return XCTFail("no images")
        }
        let session = try RenderSession(request: request, model: model, inputs: inputs, models: ModelCache())
        for _ in 0..<3 { try session.advance() }
        let state = try JSONDecoder().decode(DenoiseState.self, from: try JSONEncoder().encode(session.snapshot()))
        let resumed = try RenderSession(request: request, model: model, inputs: inputs, models: ModelCache(), resuming: state)
        guard case .images(let again) = try resumed.run() else { return XCTFail("no images") }
        XCTAssertTrue(straight == again, "resumed ControlNet render differs from the straight one")
    }

    /// The model cache holds the ControlNets with the model's components: their bytes count in
    /// `heldBytes` and the peak (what `--max-memory` bounds).
    func testControlNetsCountInTheModelCache() throws {
        let (request, inputs) = try Self.prepared("two")
        let model = ModelReference(path: Fixtures.model("tiny-sdxl-base"))
        let plain = ModelCache(), controlled = ModelCache()
        var without = request
        without.controlnet = ControlNetSettings()
        _ = try RenderSession(request: without, model: model, inputs: RenderInputs(), models: plain).run()
        _ = try RenderSession(request: request, model: model, inputs: inputs, models: controlled).run()
        // float32: 4 bytes a parameter (the fp16 file of the second loads as float32 too).
        var expected = 0
        for name in ["tiny-controlnet", "tiny-controlnet-2"] {
            let files = try ControlNetFiles(path: Fixtures.model(name))
            expected += try files.weights().parameterCount * 4
        }
        XCTAssertEqual(controlled.heldBytes - plain.heldBytes, expected)
        XCTAssertEqual(controlled.peakBytes - plain.peakBytes, expected)
        XCTAssertEqual(controlled.loads, 1, "the ControlNets are not models of their own")
    }

    /// The ControlNet changes the image: the same request without it differs (so the cases above
    /// cannot pass with ControlNet ignored).
    func testControlNetIsNotIgnored() throws {
        var (request, inputs) = try Self.prepared("one")
        request.width = 72; request.height = 56
        let expected = try Expected("controlnet-one").tensor("pixels")
        request.controlnet = ControlNetSettings()
        inputs.controlImages = []
        let session = try RenderSession(request: request, model: ModelReference(path: Fixtures.model("tiny-sdxl-base")),
                                        inputs: inputs, models: ModelCache())
        guard case .images(let images) = try session.run() else { return XCTFail("no images") }
        let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, expected)
        XCTAssertTrue(result.sizesMatch && result.worst > 8, "without ControlNet: \(result)")
    }
}
