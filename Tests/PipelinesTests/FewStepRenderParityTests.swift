import Foundation
import KilnTestSupport
import Pipelines
import Schedulers
import XCTest

/// Text-to-image with LCMScheduler and TCDScheduler (its eta the pipeline's) against diffusers'
/// StableDiffusionXLPipeline with the scheduler swapped by `from_config`, on the tiny base model.
final class FewStepRenderParityTests: XCTestCase {
    static let models = ModelCache()
    static let base = ModelReference(path: Fixtures.model("tiny-sdxl-base"))

    static func cases() throws -> [RenderParityTests.Case] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("renders-few-step.json")))
        return try JSONDecoder().decode([RenderParityTests.Case].self, from: data)
    }

    static func request(_ c: RenderParityTests.Case) throws -> RenderRequest {
        var r = try RenderParityTests.request(c)
        r.eta = c.args["eta"]?.number
        try r.validate()
        return r
    }

    func testFewStepRendersMatchDiffusersWithinOneLevel() throws {
        let cases = try FewStepRenderParityTests.cases()
        XCTAssertEqual(Set(cases.map(\.scheduler)), ["lcm", "tcd"])
        XCTAssertTrue(cases.contains { ($0.args["eta"]?.number ?? 0) > 0 }, "a case with TCD's fresh noise")
        for c in cases {
            let session = try RenderSession(request: try FewStepRenderParityTests.request(c), model: FewStepRenderParityTests.base,
                                            models: FewStepRenderParityTests.models)
            guard case .images(let images) = try session.run(progress: { _, _ in true }) else { XCTFail("\(c.name): no images"); continue }
            let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("render-" + c.name).tensor("pixels"))
            XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(c.name): \(result)")
        }
    }

    /// Stopped after step k and resumed from the saved state (scheduler and generator), an LCM or
    /// TCD render is bit-identical to one that ran straight through.
    func testResumedFewStepRendersAreBitIdentical() throws {
        for c in try FewStepRenderParityTests.cases() where c.args["num_inference_steps"]?.number ?? 0 >= 3 {
            let r = try FewStepRenderParityTests.request(c)
            let models = FewStepRenderParityTests.models, base = FewStepRenderParityTests.base
            guard case .images(let straight) = try RenderSession(request: r, model: base, models: models).run(progress: { _, _ in true }) else {
                XCTFail(c.name); continue
            }
            let session = try RenderSession(request: r, model: base, models: models)
            try session.advance()
            try session.advance()
            let state = try JSONDecoder().decode(DenoiseState.self, from: try JSONEncoder().encode(session.snapshot()))
            let resumed = try RenderSession(request: r, model: base, models: ModelCache(), resuming: state)
            XCTAssertEqual(resumed.completedSteps, 2, c.name)
            guard case .images(let again) = try resumed.run(progress: { _, _ in true }) else { XCTFail(c.name); continue }
            XCTAssertTrue(straight == again, "\(c.name) resumed after step 2")
        }
    }

    func testEtaIsRefusedBySchedulersThatIgnoreIt() throws {
        var r = RenderRequest(prompt: "a cat")
        r.scheduler = .euler
        r.eta = 0.3
        XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".contains("schedulers that do: ddim, tcd"), "\($0)") }
        r.scheduler = .tcd
        XCTAssertNoThrow(try r.validate())
        r.eta = 1.5
        XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".hasPrefix("eta: must be between 0 and 1"), "\($0)") }
        // With the model's own scheduler (Euler for the tiny base), the render refuses it in one line.
        r.scheduler = nil
        r.eta = 0.3
        r.steps = 2
        XCTAssertThrowsError(try RenderSession(request: r, model: FewStepRenderParityTests.base, models: FewStepRenderParityTests.models)) {
            XCTAssertTrue("\($0)".contains("does not take eta"), "\($0)")
        }
    }

    /// Requests stored before eta existed keep their bytes (and so their hashes); eta is stored only when set.
    func testEtaIsStoredOnlyWhenSet() throws {
        var r = RenderRequest(prompt: "a cat")
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(r), as: UTF8.self).contains("eta"))
        r.eta = 0.3
        let data = try JSONEncoder().encode(r)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains(#""eta":0.3"#))
        XCTAssertEqual(try JSONDecoder().decode(RenderRequest.self, from: data).eta, 0.3)
    }

    /// `eta` is a render parameter (option, sweep key, column) and is written in the PNG's parameters text.
    func testEtaIsAParameterAndInTheParametersText() throws {
        var r = RenderRequest(prompt: "a cat")
        r.scheduler = .tcd
        let eta = try XCTUnwrap(RenderParameters.named("eta"))
        XCTAssertEqual(eta.column, "eta")
        try eta.apply(.text("0.3"), to: &r)
        XCTAssertEqual(r.eta, 0.3)
        XCTAssertEqual(eta.value(in: r), "0.3")
        XCTAssertThrowsError(try eta.apply(.text("lots"), to: &r))
        let record = Provenance(kilnVersion: "test", request: r, width: 64, height: 64, scheduler: "tcd", schedulerClass: "TCDScheduler",
                                seed: 1, imageIndex: 0, model: "m", modelHash: "h", watermarkBits: nil, seconds: 1)
        XCTAssertTrue(record.parametersText.contains("Eta: 0.3"), record.parametersText)
        r.eta = nil
        let plain = Provenance(kilnVersion: "test", request: r, width: 64, height: 64, scheduler: "tcd", schedulerClass: "TCDScheduler",
                               seed: 1, imageIndex: 0, model: "m", modelHash: "h", watermarkBits: nil, seconds: 1)
        XCTAssertFalse(plain.parametersText.contains("Eta"))
    }
}
