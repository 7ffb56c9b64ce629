import Foundation
import KilnTestSupport
import ModelFiles
import Numerics
import Pipelines
import Schedulers
import XCTest

/// `--vae` against diffusers' SDXL pipelines with `pipe.vae = other_vae` on the tiny base: another
/// AutoencoderKL (as a folder of fp16 weights, and as one file in the original or in diffusers'
/// layout read with the base VAE's config) and an AutoencoderTiny; text-to-image, image-to-image
/// and inpainting (the encoder's path: a sample drawn from the generator for AutoencoderKL, none
/// for AutoencoderTiny), and base + refiner, where the refiner decodes with the swapped VAE too.
final class VAESwapParityTests: XCTestCase {
    static let models = ModelCache()
    static let base = ModelReference(path: Fixtures.model("tiny-sdxl-base"))

    struct Case: Decodable {
        let name: String, pipeline: String, vae: String, seed: UInt64, prompt: String
        let args: [String: RenderParityTests.Arg]
    }

    static func cases() throws -> [Case] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("renders-vae-swap.json")))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    /// The request as `kiln render` makes it: files read and hashed by `InputFiles.resolve`.
    static func resolved(_ c: Case, vae path: String, tiling: Bool = false) throws -> ResolvedInputs {
        var r = RenderRequest(prompt: c.prompt)
        r.width = c.args["width"]?.number.map { Int($0) }
        r.height = c.args["height"]?.number.map { Int($0) }
        r.steps = Int(c.args["num_inference_steps"]?.number ?? 50)
        r.guidance = c.args["guidance_scale"]?.number.map { Float($0) }
        r.strength = c.args["strength"]?.number
        if let image = c.args["image"]?.text { r.image = InputReference(sha256: "", file: Fixtures.path("images/" + image)) }
        if let mask = c.args["mask_image"]?.text { r.mask = InputReference(sha256: "", file: Fixtures.path("images/" + mask)) }
        if let fraction = c.args["high_noise_frac"]?.number {
            r.refiner = Fixtures.model("tiny-sdxl-refiner")
            r.highNoiseFrac = fraction
        }
        r.seed = c.seed
        r.scheduler = try c.args["scheduler"]?.text.map { try SchedulerKind(name: $0) }
        r.watermark = false
        r.vae = VAEReference(file: path)
        r.vaeTiling = tiling
        return try InputFiles.resolve(r)
    }

    static func paths(_ kind: String) -> [String] {
        kind == "tiny" ? [Fixtures.model("vae-tiny-taesd")]
            : [Fixtures.model("vae-kl-tiny"), Fixtures.model("vae-kl-tiny-original.safetensors"),
               // the folder's weights file alone: diffusers' key layout, read with the base VAE's config
               Fixtures.model("vae-kl-tiny/diffusion_pytorch_model.fp16.safetensors")]
    }

    func testRendersWithASwappedVAEMatchDiffusersWithinOneLevel() throws {
        let cases = try VAESwapParityTests.cases()
        XCTAssertEqual(Set(cases.map { "\($0.vae) \($0.pipeline)" }),
                       ["kl text2img", "kl img2img", "kl ensemble", "tiny text2img", "tiny img2img", "tiny inpaint"])
        for c in cases {
            for path in VAESwapParityTests.paths(c.vae) {
                let resolved = try VAESwapParityTests.resolved(c, vae: path)
                let session = try RenderSession(request: resolved.request, model: VAESwapParityTests.base, inputs: resolved.inputs,
                                                models: VAESwapParityTests.models)
                guard case .images(let images) = try session.run(progress: { _, _ in true }) else { XCTFail("\(c.name): no images"); continue }
                let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("render-vae-swap").tensor(c.name))
                XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(c.name) with \(path): \(result)")
            }
        }
    }

    /// The VAE is recorded by the SHA-256 of its bytes (a file's own; a folder's over its files,
    /// as `sha256sum` lists them), in the request, the PNG's parameters text, and the cache's key.
    func testTheVAEIsRecordedByHashAndIsAnotherModelToTheCache() throws {
        let c = try XCTUnwrap(try VAESwapParityTests.cases().first { $0.vae == "kl" && $0.pipeline == "text2img" })
        let file = Fixtures.model("vae-kl-tiny-original.safetensors")
        let single = try VAESwapParityTests.resolved(c, vae: file).request
        XCTAssertEqual(single.vae?.sha256, SHA256.hex(try XCTUnwrap(FileManager.default.contents(atPath: file))))
        let folder = Fixtures.model("vae-kl-tiny")
        let lines = try ["config.json", "diffusion_pytorch_model.fp16.safetensors"].map { name -> String in
            "\(SHA256.hex(try XCTUnwrap(FileManager.default.contents(atPath: folder + "/" + name))))  \(name)\n"
        }
        XCTAssertEqual(try VAESwapParityTests.resolved(c, vae: folder).request.vae?.sha256, SHA256.hex(Data(lines.joined().utf8)))

        let cache = ModelCache()
        var plain = single
        plain.vae = nil
        let own = try RenderSession(request: plain, model: VAESwapParityTests.base, models: cache)
        _ = try own.run(progress: { _, _ in true })
        let held = cache.heldBytes
        let session = try RenderSession(request: single, model: VAESwapParityTests.base, models: cache)
        _ = try session.run(progress: { _, _ in true })
        XCTAssertEqual(cache.loads, 2, "a model with another VAE is another model")
        let vaeBytes = try VAEFiles(path: file).weights.parameterCount * 4
        XCTAssertEqual(cache.heldBytes, held + vaeBytes, "the swapped-in VAE counts against --max-memory; the rest is shared")
        let text = Provenance(session: session, imageIndex: 0, seconds: nil).parametersText
        XCTAssertTrue(text.contains("VAE: vae-kl-tiny-original.safetensors, VAE hash: \(single.vae!.sha256.prefix(10))"), text)
    }

    func testABadVAEIsRefusedInOneLineBeforeAnythingLoads() throws {
        let c = try XCTUnwrap(try VAESwapParityTests.cases().first { $0.pipeline == "text2img" })
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func refusal(_ path: String, tiling: Bool = false) -> String {
            do {
                let r = try VAESwapParityTests.resolved(c, vae: path, tiling: tiling).request
                _ = try RenderSession(request: r, model: VAESwapParityTests.base, models: ModelCache())
                return "no error"
            } catch { return "\(error)" }
        }
        // Latent channels other than the UNet's 4 (an SD3 or Flux VAE).
        let wide = dir + "/wide"
        try FileManager.default.createDirectory(atPath: wide, withIntermediateDirectories: true)
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.model("vae-kl-tiny/config.json")))) as? [String: Any])
        config["latent_channels"] = 16
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: wide + "/config.json"))
        try FileManager.default.copyItem(atPath: Fixtures.model("vae-kl-tiny/diffusion_pytorch_model.fp16.safetensors"),
                                         toPath: wide + "/diffusion_pytorch_model.fp16.safetensors")
        let channels = refusal(wide)
        XCTAssertTrue(channels.hasPrefix("vae: \(wide) codes 16 latent channels but SDXL's UNets take 4"), channels)
        // Tensors that do not fit the base VAE's config: the first one named, with both shapes.
        let misfit = dir + "/misfit.safetensors"
        try SafetensorsWriter.data([("encoder.conv_in.weight", Tensor(zeros: [4, 3, 3, 3])),
                                    ("decoder.up_blocks.0.resnets.0.conv1.weight", Tensor(zeros: [16, 16, 3, 3]))], metadata: [:])
            .write(to: URL(fileURLWithPath: misfit))
        let shapes = refusal(misfit)
        XCTAssertTrue(shapes.contains("tensor 'encoder.conv_in.weight'") && shapes.contains("has shape [4, 3, 3, 3] but the config implies [8, 3, 3, 3]"), shapes)
        // A pickle, told by its bytes, refused with the conversion.
        let pickle = dir + "/vae.bin"
        try Data([0x80, 0x04, 0x95, 0x00]).write(to: URL(fileURLWithPath: pickle))
        let pickled = refusal(pickle)
        XCTAssertTrue(pickled.hasPrefix("vae: \(pickle): is a pickled PyTorch file") && pickled.contains("save_file("), pickled)
        XCTAssertTrue(refusal(Fixtures.model("vae-tiny-taesd"), tiling: true).hasPrefix("vae-tiling: an AutoencoderTiny VAE is not decoded in tiles"))
        for message in [channels, shapes, pickled] { XCTAssertFalse(message.contains("\n"), message) }
    }
}
