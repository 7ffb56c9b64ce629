import Foundation
import KilnTestSupport
import ModelFiles
import Models
import Numerics
import Pipelines
import XCTest

/// LCM UNets (`time_cond_proj_dim`, as latent-consistency/lcm-sdxl) against diffusers'
/// StableDiffusionXLPipeline with `pipe.unet = lcm`: the guidance scale enters through the
/// guidance-scale embedding and the unconditional batch is dropped, from `--unet` and from a
/// pipeline folder whose unet it is.
extension UNetSwapParityTests {
    /// An LCM UNet (time_cond_proj_dim) at guidance 8: the guidance-scale embedding enters its time
    /// embedding and the unconditional batch is dropped, so the negative prompt changes nothing.
    func testLCMUNetTakesTheGuidanceEmbedding() throws {
        let c = try XCTUnwrap(try Self.cases()["lcm-unet-guidance-8"])
        XCTAssertNotNil(c.args["negative_prompt"])
        try check(c.name, try Self.request(c, unet: Self.unet(c.unet)), model: Fixtures.model("tiny-sdxl-base"))
    }

    /// The same LCM UNet as the unet of a pipeline folder (as latent-consistency/lcm-sdxl is used
    /// with a pipeline whose unet it is) gives the same image.
    func testLCMUNetInAPipelineFolder() throws {
        let c = try XCTUnwrap(try Self.cases()["lcm-unet-guidance-8"])
        let model = try pipeline("lcm", scheduler: [:], unet: Self.unet(c.unet))
        try check(c.name, try Self.request(c, unet: nil), model: model)
    }

    func testGuidanceScaleEmbeddingIsDiffusers() {
        // diffusers' get_guidance_scale_embedding(torch.tensor([7.0]), embedding_dim=5) (sines, cosines,
        // a zero column for the odd width) and =32, its first and last four values.
        let odd = guidanceScaleEmbedding(7, dim: 5, count: 2)
        XCTAssertEqual(odd.shape, [2, 5])
        let expected: [Float] = [0.5068854093551636, 0.6442176103591919, 0.8620134592056274, 0.7648422122001648, 0]
        odd.withUnsafeBufferPointer { p in
            for i in 0..<5 { XCTAssertEqual(p[i], expected[i], accuracy: 2e-6); XCTAssertEqual(p[5 + i], p[i]) }
        }
        let wide = guidanceScaleEmbedding(7, dim: 32, count: 1)
        let ends: [(Int, Float)] = [(0, 0.5068854093551636), (1, -0.5429723858833313), (2, 0.9868965148925781), (3, -0.42872971296310425),
                                    (28, -0.2913954555988312), (29, -0.7307288646697998), (30, 0.2737607955932617), (31, 0.7648422122001648)]
        wide.withUnsafeBufferPointer { p in for (i, v) in ends { XCTAssertEqual(p[i], v, accuracy: 2e-6, "[\(i)]") } }
    }

    /// Stopped after step 2 and resumed in another cache from the saved state, an LCM-UNet render
    /// is bit-identical to one that ran straight through.
    func testResumedLCMUNetRenderIsBitIdentical() throws {
        let c = try XCTUnwrap(try Self.cases()["lcm-unet-guidance-8"])
        let r = try Self.request(c, unet: Self.unet(c.unet)), base = ModelReference(path: Fixtures.model("tiny-sdxl-base"))
        guard case .images(let straight) = try RenderSession(request: r, model: base, models: Self.models).run() else { return XCTFail("no images") }
        let session = try RenderSession(request: r, model: base, models: Self.models)
        try session.advance()
        try session.advance()
        let state = try JSONDecoder().decode(DenoiseState.self, from: try JSONEncoder().encode(session.snapshot()))
        let resumed = try RenderSession(request: r, model: base, models: ModelCache(), resuming: state)
        XCTAssertEqual(resumed.completedSteps, 2)
        guard case .images(let again) = try resumed.run() else { return XCTFail("no images") }
        XCTAssertTrue(straight == again, "resumed after step 2")
    }

    /// A single file holding a guidance embedding (cond_proj) read with a config that has no
    /// time_cond_proj_dim is refused rather than rendered without it.
    func testGuidanceEmbeddingWithoutItsConfigIsRefused() throws {
        var r = RenderRequest(prompt: "a cat")
        r.steps = 1
        r.unet = UNetReference(file: Self.unet("lcm-unet") + "/diffusion_pytorch_model.safetensors")
        XCTAssertThrowsError(try RenderSession(request: r, model: ModelReference(path: Fixtures.model("tiny-sdxl-base")), models: ModelCache())) {
            XCTAssertTrue("\($0)".contains("'time_cond_proj_dim' is not in the UNet's config, but its weights hold time_embedding.cond_proj"), "\($0)")
        }
    }
}

extension UNetSwapParityTests {
    /// bf16 builds the swapped-in UNet in bfloat16 as it builds a model's own (another model to the
    /// cache), and an LCM render stays close to diffusers' float32 image.
    func testBF16RendersWithASwappedUNet() throws {
        let c = try XCTUnwrap(try Self.cases()["lcm-unet-guidance-8"])
        var r = try Self.request(c, unet: Self.unet(c.unet))
        r.precision = .bf16
        let models = ModelCache()
        let session = try RenderSession(request: r, model: ModelReference(path: Fixtures.model("tiny-sdxl-base")), models: models)
        guard case .images(let images) = try session.run() else { return XCTFail("no images") }
        let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("unet-swap-" + c.name).tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 8, "\(result)")
        // The swapped UNet held as this machine runs bf16 (2 bytes a parameter with AVX512-BF16).
        let precision = Precision.effective(.bf16).precision
        let held = try models.model(ModelReference(path: Fixtures.model("tiny-sdxl-base"), precision: precision, unet: r.unet))
        XCTAssertEqual(models.loads, 1, "the render's own model")
        let parameters = try UNetFile(path: Self.unet(c.unet)).weights(layersPerBlock: 1).parameterCount
        let unetKey = try XCTUnwrap(held.componentBytes.keys.first { $0.contains(":unet") })
        XCTAssertEqual(held.componentBytes[unetKey], parameters * (precision == .bf16 ? 2 : 4))
        XCTAssertEqual(unetKey.hasSuffix("@bf16"), precision == .bf16, unetKey)
    }
}
