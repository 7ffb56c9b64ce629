import Foundation
import KilnTestSupport
import ModelFiles
import Models
import Numerics
import Pipelines
import Schedulers
import XCTest

/// `--unet` against diffusers' StableDiffusionXLPipeline with `pipe.unet = other` on the tiny base
/// (Tests/Fixtures/expected/unet-swap.json): a UNet folder, the same weights as one file in
/// diffusers' and in the original SGM key layout (LCM UNets: LCMUNetParityTests.swift).
final class UNetSwapParityTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let unet: String
        let scheduler: String
        /// `from_config(config, **schedulerConfig)` over the tiny base's scheduler config.
        let schedulerConfig: [String: String]
        let seed: UInt64
        let watermark: Bool
        let args: [String: RenderParityTests.Arg]

        enum CodingKeys: String, CodingKey { case name, unet, scheduler, schedulerConfig = "scheduler_config", seed, watermark, args }
    }

    static let models = ModelCache()
    var dir = ""

    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    static func cases() throws -> [String: Case] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("unet-swap.json")))
        return Dictionary(uniqueKeysWithValues: try JSONDecoder().decode([Case].self, from: data).map { ($0.name, $0) })
    }

    static func unet(_ name: String) -> String { Fixtures.model("unets/\(name)") }
    static var swapFile: String { unet("swap-unet") + "/diffusion_pytorch_model.fp16.safetensors" }

    static func request(_ c: Case, unet: String?) throws -> RenderRequest {
        var r = try RenderParityTests.request(RenderParityTests.Case(name: c.name, scheduler: c.scheduler, seed: c.seed,
                                                                     watermark: c.watermark, args: c.args))
        r.unet = unet.map { UNetReference(file: $0) }
        return r
    }

    /// The tiny base with its scheduler config changed as `from_config(config, **overrides)` and,
    /// when given, its unet folder replaced: a pipeline folder of symlinks in `dir`.
    func pipeline(_ name: String, scheduler overrides: [String: String], unet: String? = nil) throws -> String {
        let fm = FileManager.default
        let base = Fixtures.model("tiny-sdxl-base"), folder = (dir as NSString).appendingPathComponent(name)
        try fm.createDirectory(atPath: folder + "/scheduler", withIntermediateDirectories: true)
        try fm.copyItem(atPath: base + "/model_index.json", toPath: folder + "/model_index.json")
        for component in ["text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae", "unet"] {
            let target = component == "unet" ? unet ?? base + "/unet" : base + "/" + component
            try fm.createSymbolicLink(atPath: folder + "/" + component, withDestinationPath: target)
        }
        let config = base + "/scheduler/scheduler_config.json"
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as? [String: Any])
        for (key, value) in overrides { json[key] = value }
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: folder + "/scheduler/scheduler_config.json"))
        return folder
    }

    /// Renders `r` with `model` and compares pixels (within 1 of 255) and the final latents (within
    /// 1e-4 of their largest magnitude) with diffusers'.
    func check(_ name: String, _ r: RenderRequest, model: String, models: ModelCache = UNetSwapParityTests.models,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let session = try RenderSession(request: r, model: ModelReference(path: model), models: models)
        guard case .images(let images) = try session.run() else { return XCTFail("\(name): no images", file: file, line: line) }
        let expected = try Expected("unet-swap-" + name)
        let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try expected.tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(name): \(result)", file: file, line: line)
        let latents = try session.snapshot().latents.tensor(), reference = try expected.image("latents")
        XCTAssertEqual(latents.shape, reference.shape, name, file: file, line: line)
        var worst: Float = 0, largest: Float = 0
        latents.withUnsafeBufferPointer { a in
            reference.withUnsafeBufferPointer { b in
                for i in 0..<min(a.count, b.count) { worst = max(worst, abs(a[i] - b[i])); largest = max(largest, abs(b[i])) }
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-4 * max(largest, 1), "\(name): latents differ by \(worst) (largest \(largest))", file: file, line: line)
    }

    func testSwappedUNetFolderMatchesDiffusers() throws {
        let c = try XCTUnwrap(try Self.cases()["swap-euler-trailing-4"])
        let model = try pipeline("trailing", scheduler: c.schedulerConfig)
        try check(c.name, try Self.request(c, unet: Self.unet(c.unet)), model: model)
    }

    /// The folder's weights file alone is a single file in diffusers' key layout (as ByteDance's
    /// sdxl_lightning_4step_unet.safetensors), read with the pipeline UNet's config.
    func testDiffusersLayoutFileMatchesDiffusers() throws {
        let c = try XCTUnwrap(try Self.cases()["swap-euler-trailing-4"])
        let model = try pipeline("trailing", scheduler: c.schedulerConfig)
        XCTAssertEqual(try UNetFile(path: Self.swapFile).layout, .diffusers)
        try check(c.name, try Self.request(c, unet: Self.swapFile), model: model)
    }

    /// A pipeline folder given as `--unet` stands for its `unet/` (here the tiny base's own, sharded
    /// over four files with an index): the render equals the base's own (renders.json's euler-square).
    func testPipelineFolderWithAShardedUNet() throws {
        let base = Fixtures.model("tiny-sdxl-base")
        let unet = try UNetFile(path: base)
        XCTAssertEqual(unet.layout, .folder)
        XCTAssertEqual(unet.files.count, 5, "config.json and four shards: \(unet.files)")
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("renders.json")))
        let c = try XCTUnwrap(try JSONDecoder().decode([RenderParityTests.Case].self, from: data).first { $0.name == "euler-square" })
        var r = try RenderParityTests.request(c)
        r.unet = UNetReference(file: base)
        let session = try RenderSession(request: r, model: ModelReference(path: base), models: Self.models)
        guard case .images(let images) = try session.run() else { return XCTFail("no images") }
        let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("render-euler-square").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
    }

    /// A UNet folder without a config.json of its own takes the pipeline UNet's config, as a single file does.
    func testFolderWithoutItsConfigTakesThePipelines() throws {
        let c = try XCTUnwrap(try Self.cases()["swap-euler-trailing-4"])
        let model = try pipeline("trailing", scheduler: c.schedulerConfig)
        let folder = (dir as NSString).appendingPathComponent("weights-only")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/diffusion_pytorch_model.fp16.safetensors", withDestinationPath: Self.swapFile)
        let unet = try UNetFile(path: folder)
        XCTAssertNil(unet.config)
        XCTAssertEqual(unet.files, [folder + "/diffusion_pytorch_model.fp16.safetensors"])
        try check(c.name, try Self.request(c, unet: folder), model: model)
    }

    /// The same weights under the original SGM names (`model.diffusion_model.*`, the names the
    /// fixture script took from its own conversion, which diffusers' from_single_file reads back).
    func testSGMLayoutFileMatchesDiffusers() throws {
        let c = try XCTUnwrap(try Self.cases()["swap-euler-trailing-4"])
        let model = try pipeline("trailing", scheduler: c.schedulerConfig)
        let names = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("unet-swap-sgm-names.json")))) as? [String: String])
        let source = try SafetensorsFile(path: Self.swapFile)
        XCTAssertEqual(names.count, source.tensorNames.count)
        let sgm = (dir as NSString).appendingPathComponent("swap-sgm.safetensors")
        try SafetensorsWriter.data(try names.map { ($0.value, try source.load($0.key)) }, dtype: .f16).write(to: URL(fileURLWithPath: sgm))
        XCTAssertEqual(try UNetFile(path: sgm).layout, .sgm)
        try check(c.name, try Self.request(c, unet: sgm), model: model)
    }

    /// A model with another UNet is another model to the cache, which counts the swapped UNet's
    /// bytes (for --max-memory) and shares the text encoders and VAE with the model's own.
    func testCacheKeysOnTheUNetAndCountsItsBytes() throws {
        let models = ModelCache()
        let plain = ModelReference(path: Fixtures.model("tiny-sdxl-base"))
        var swapped = plain
        swapped.unet = UNetReference(file: Self.unet("swap-unet"))
        let own = try models.model(plain), other = try models.model(swapped)
        XCTAssertEqual(models.loads, 2)
        let parameters = try UNetFile(path: Self.unet("swap-unet")).weights(layersPerBlock: 2).parameterCount
        let ownKeys = Set(own.componentBytes.keys)
        XCTAssertEqual(other.componentBytes.filter { !ownKeys.contains($0.key) }.map(\.value), [parameters * 4], "\(other.componentBytes)")
        XCTAssertEqual(Set(own.componentBytes.keys).subtracting(other.componentBytes.keys).count, 1, "only the UNet differs")
        _ = try models.model(swapped)
        XCTAssertEqual(models.loads, 2)
    }

    func testPickledUNetIsRefusedWithTheConversionCommand() throws {
        let bin = (dir as NSString).appendingPathComponent("dmd2_sdxl_4step_unet_fp16.bin")
        try Data([0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: bin))
        var r = RenderRequest(prompt: "a cat")
        r.unet = UNetReference(file: bin)
        XCTAssertThrowsError(try InputFiles.resolve(r)) {
            let message = "\($0)"
            XCTAssertTrue(message.hasPrefix("unet: \(bin): is a pickled PyTorch file (zip archive)"), message)
            XCTAssertTrue(message.contains("convert it to safetensors with: python3 -c \"import torch; from safetensors.torch import save_file;"), message)
            XCTAssertTrue(message.contains("dmd2_sdxl_4step_unet_fp16.safetensors"), message)
            XCTAssertFalse(message.contains("\n"))
        }
    }

    /// A file whose tensors do not fit the config names the first such tensor and both shapes.
    func testMisshapenTensorIsNamedWithBothShapes() throws {
        let source = try SafetensorsFile(path: Self.swapFile)
        let bad = (dir as NSString).appendingPathComponent("bad-unet.safetensors")
        let tensors = try source.tensorNames.map { name in
            (name, name == "conv_in.weight" ? Tensor(zeros: [8, 4, 1, 1]) : try source.load(name))
        }
        try SafetensorsWriter.data(tensors, dtype: .f16).write(to: URL(fileURLWithPath: bad))
        var r = RenderRequest(prompt: "a cat")
        r.steps = 1
        r.unet = UNetReference(file: bad)
        XCTAssertThrowsError(try RenderSession(request: r, model: ModelReference(path: Fixtures.model("tiny-sdxl-base")), models: ModelCache())) {
            XCTAssertTrue("\($0)".contains("tensor 'conv_in.weight' in \(bad) has shape [8, 4, 1, 1] but the config implies [8, 4, 3, 3]"), "\($0)")
        }
    }

    /// A UNet made for other text encoders is refused from its config, before any weight loads.
    func testUNetForOtherTextEncodersIsRefusedFromItsConfig() throws {
        let folder = (dir as NSString).appendingPathComponent("other-unet")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let lcm = Self.unet("lcm-unet")
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: lcm + "/config.json"))) as? [String: Any])
        config["cross_attention_dim"] = 32
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder + "/config.json"))
        try FileManager.default.createSymbolicLink(atPath: folder + "/diffusion_pytorch_model.safetensors",
                                                   withDestinationPath: lcm + "/diffusion_pytorch_model.safetensors")
        var r = RenderRequest(prompt: "a cat")
        r.steps = 1
        r.unet = UNetReference(file: folder)
        let models = ModelCache()
        XCTAssertThrowsError(try RenderSession(request: r, model: ModelReference(path: Fixtures.model("tiny-sdxl-base")), models: models)) {
            XCTAssertTrue("\($0)".hasPrefix("unet: \(folder): its cross_attention_dim is 32 but \(Fixtures.model("tiny-sdxl-base"))'s UNet has 48"), "\($0)")
        }
        XCTAssertEqual(models.loads, 0, "refused before loading")
    }

    /// The UNet's SHA-256 is taken when the request is resolved (a folder: over its files' hashes),
    /// and a UNet whose bytes changed since is refused when its model loads.
    func testHashIsRecordedAndAChangedUNetIsRefused() throws {
        var r = RenderRequest(prompt: "a cat")
        r.unet = UNetReference(file: Self.swapFile)
        let resolved = try InputFiles.resolve(r).request
        XCTAssertEqual(resolved.unet?.sha256, SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: Self.swapFile))))
        r.unet = UNetReference(file: Self.unet("swap-unet"))
        let folderHash = try XCTUnwrap(try InputFiles.resolve(r).request.unet?.sha256)
        XCTAssertEqual(folderHash.count, 64)
        XCTAssertNotEqual(folderHash, resolved.unet?.sha256)
        var changed = ModelReference(path: Fixtures.model("tiny-sdxl-base"))
        changed.unet = UNetReference(file: Self.swapFile, sha256: String(repeating: "0", count: 64))
        XCTAssertThrowsError(try ModelCache().model(changed)) {
            XCTAssertTrue("\($0)".hasPrefix("unet: \(Self.swapFile) changed since the job was added"), "\($0)")
        }
    }

    /// `unet` is a render parameter (option, sweep key, column), stored only when set, and written
    /// in the PNG's parameters text with its hash.
    func testUNetIsAParameterStoredOnlyWhenSetAndInTheParametersText() throws {
        var r = RenderRequest(prompt: "a cat")
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(r), as: UTF8.self).contains("unet"))
        let parameter = try XCTUnwrap(RenderParameters.named("unet"))
        XCTAssertEqual(parameter.column, "unet")
        try parameter.apply(.text("/models/lcm-sdxl"), to: &r)
        r.unet?.sha256 = String(repeating: "ab", count: 32)
        XCTAssertEqual(parameter.value(in: r), "/models/lcm-sdxl")
        let data = try JSONEncoder().encode(r)
        XCTAssertEqual(try JSONDecoder().decode(RenderRequest.self, from: data), r)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains(#""unet":{"#))
        let record = Provenance(kilnVersion: "test", request: r, width: 64, height: 64, scheduler: "lcm", schedulerClass: "LCMScheduler",
                                seed: 1, imageIndex: 0, model: "m", modelHash: "h", watermarkBits: nil, seconds: 1)
        XCTAssertTrue(record.parametersText.contains("UNet: lcm-sdxl [ababababab]"), record.parametersText)
        XCTAssertThrowsError(try parameter.apply(.text(""), to: &r))
    }
}
