import Foundation
import KilnTestSupport
import ModelFiles
import Models
import Numerics
import XCTest

/// A ControlNet in one safetensors file (controlnet_single_file_fixtures.py): the original layout
/// (`control_model.*`, with or without the prefix) and diffusers' layout alone give the folder's
/// config and residuals, -mid and -small shapes diffusers' residuals; other files are refused in one line. And the ControlNet in bf16 against
/// diffusers' bfloat16 error.
final class ControlNetSingleFileTests: XCTestCase {
    let folder = Fixtures.model("tiny-controlnet")
    let original = Fixtures.path("models/tiny-controlnet-original.safetensors")
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func baseUNet() throws -> UNetConfig { try UNetConfig(try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base")).config("unet")) }

    struct Inputs { let sample: Tensor, timestep: Float, conditioning: UNetConditioning, condition: Tensor }

    /// controlnet-forward's inputs (controlnet_fixtures.py).
    func inputs() throws -> Inputs {
        let e = try Expected("controlnet-forward")
        let ids = try e.tensor("time_ids")
        let perRow = ids.shape[1]
        let timeIDs = (0..<ids.shape[0]).map { b in (0..<perRow).map { ids[flat: b * perRow + $0] } }
        let conditioning = UNetConditioning(encoderHiddenStates: try e.tensor("encoder_hidden_states"),
                                            textEmbeds: try e.tensor("text_embeds"), timeIDs: timeIDs)
        return Inputs(sample: try e.image("sample"), timestep: try e.tensor("timestep")[flat: 0], conditioning: conditioning,
                      condition: try e.image("cond_u8").scaled(by: 1 / 255))
    }

    func run(_ files: ControlNetFiles, scale: Float) throws -> ControlNetResiduals {
        let x = try inputs()
        return try files.load()(x.sample, timestep: x.timestep, conditioning: x.conditioning, condition: x.condition, scale: scale)
    }

    /// The file's config and residuals are the folder's, and diffusers' within 1e-4.
    func checkSameAsFolder(_ path: String, layout: ControlNetFiles.Layout, file: StaticString = #filePath, line: UInt = #line) throws {
        let single = try ControlNetFiles(path: path, base: try baseUNet())
        let own = try ControlNetFiles(path: folder)
        XCTAssertEqual(single.layout, layout, file: file, line: line)
        var config = single.config
        config.path = own.config.path
        XCTAssertEqual(config, own.config, "the config made from the shapes is the folder's config.json", file: file, line: line)
        let a = try run(single, scale: 0.7), b = try run(own, scale: 0.7)
        let e = try Expected("controlnet-forward")
        XCTAssertEqual(a.down.count, b.down.count, file: file, line: line)
        for (i, (x, y)) in zip(a.down, b.down).enumerated() {
            XCTAssertEqual(x.scalars, y.scalars, "down residual \(i) equals the folder's", file: file, line: line)
            XCTAssertLessThanOrEqual(x.relativeError(to: try e.image("plain.down.\(i)")), 1e-4, file: file, line: line)
        }
        XCTAssertEqual(a.mid.scalars, b.mid.scalars, "mid residual", file: file, line: line)
        XCTAssertLessThanOrEqual(a.mid.relativeError(to: try e.image("plain.mid")), 1e-4, file: file, line: line)
    }

    func testOriginalLayoutFileGivesTheFolderResiduals() throws {
        try checkSameAsFolder(original, layout: .original)
    }

    /// The original names without the `control_model.` prefix (as some trainers save them).
    func testOriginalLayoutWithoutPrefix() throws {
        let file = try SafetensorsFile(path: original)
        let tensors = try file.tensors.keys.map { (name: String($0.dropFirst("control_model.".count)), tensor: try file.load($0)) }
        let bare = dir + "/bare.safetensors"
        try SafetensorsWriter.data(tensors).write(to: URL(fileURLWithPath: bare))
        try checkSameAsFolder(bare, layout: .original)
    }

    /// A diffusers repo's `diffusion_pytorch_model.safetensors` given alone.
    func testDiffusersLayoutFileAlone() throws {
        try checkSameAsFolder(folder + "/diffusion_pytorch_model.safetensors", layout: .diffusers)
        XCTAssertNotEqual(ControlNetFiles.contentHash(path: folder + "/diffusion_pytorch_model.safetensors"),
                          ControlNetFiles.contentHash(path: folder))
    }

    /// ControlNets shaped as diffusers tells -mid (an attention without transformer layers in
    /// down_blocks.1) and -small (no attention; mid_block_type UNetMidBlock2D) apart.
    func testMidAndSmallShapes() throws {
        let e = try Expected("controlnet-mid-small")
        for name in ["mid", "small"] {
            let files = try ControlNetFiles(path: Fixtures.path("models/tiny-controlnet-\(name).safetensors"), base: try baseUNet())
            let u = files.config.unet
            XCTAssertEqual(u.downBlocks, name == "mid" ? [.plain, .crossAttention, .crossAttention] : [.plain, .plain, .plain], name)
            XCTAssertEqual(u.midBlockAttention, name == "mid", name)
            if name == "mid" { XCTAssertEqual(u.transformerLayers[1...], [0, 1]) }
            let out = try run(files, scale: 1)
            XCTAssertEqual(out.down.count, e.file.tensorNames.filter { $0.hasPrefix("\(name).down.") }.count, name)
            for (i, d) in out.down.enumerated() {
                XCTAssertLessThanOrEqual(d.relativeError(to: try e.image("\(name).down.\(i)")), 1e-4, "\(name) down \(i)")
            }
            let err = out.mid.relativeError(to: try e.image("\(name).mid"))
            print("relative error \(name) mid: \(err)")
            XCTAssertLessThanOrEqual(err, 1e-4, "\(name) mid")
        }
    }

    /// Tensor shapes without data: a full-size ControlNet's header, as a weight source.
    final class Shapes: WeightSource, @unchecked Sendable {
        let shapes: [String: [Int]]
        init(_ shapes: [String: [Int]]) { self.shapes = shapes }
        var tensorNames: [String] { shapes.keys.sorted() }
        func info(_ name: String) -> TensorInfo? { shapes[name].map { TensorInfo(name: name, dtype: .f32, shape: $0, begin: 0, end: 0) } }
        func location(of name: String) -> String { "shapes" }
        func load(_ name: String) throws -> Tensor { throw ModelFileError.missingTensor(component: "shapes", tensor: name, searched: "shapes") }
    }

    /// diffusers/controlnet-canny-sdxl-1.0's tensor shapes with the published SDXL base UNet's
    /// config (the default when no base is given) make that repo's config.json, which diffusers'
    /// from_single_file fetches for such a file.
    func testFullSizeShapesMakeThePublishedConfig() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("expected/controlnet-sdxl-shapes.json")))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let shapes = try XCTUnwrap(object["shapes"] as? [String: [Int]])
        let published = try ControlNetConfig(try ConfigFile(path: "config.json",
                                                            data: try JSONSerialization.data(withJSONObject: try XCTUnwrap(object["config"]))))
        var made = try ControlNetConfig(shapes: Shapes(shapes), path: "x.safetensors", base: try UNetConfig(try PublishedConfigs.baseUNetConfig()))
        made.path = published.path
        XCTAssertEqual(made, published)
        XCTAssertEqual(made.unet.transformerLayers, [1, 2, 10])
        XCTAssertEqual(made.embeddingChannels, [16, 32, 96, 256])
    }

    /// Without a base, a file takes the published SDXL base UNet's config: the tiny file does not fit it.
    func testAFileForAnotherBaseIsRefusedByItsWidths() throws {
        XCTAssertThrowsError(try ControlNetFiles(path: original)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("[8, 16, 24] wide") && text.contains("[320, 640, 1280]") && !text.contains("\n"), text)
        }
    }

    /// Writes `tensors` (the original file's, edited) to a file and returns the error opening it gives.
    func refusal(_ name: String, _ edit: (inout [String: Tensor]) -> Void) throws -> String {
        let file = try SafetensorsFile(path: original)
        var tensors: [String: Tensor] = [:]
        for key in file.tensors.keys { tensors[key] = try file.load(key) }
        edit(&tensors)
        let path = dir + "/" + name
        try SafetensorsWriter.data(tensors.map { (name: $0.key, tensor: $0.value) }).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ControlNetFiles(path: path, base: try baseUNet())
            return ""
        } catch {
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), text)
            XCTAssertTrue(text.contains(path), text)
            return text
        }
    }

    func testOtherFilesAreRefusedInOneLine() throws {
        let sd15 = try refusal("sd15.safetensors") { t in t = t.filter { !$0.key.contains("label_emb") } }
        XCTAssertTrue(sd15.contains("SD 1.5-style ControlNet"), sd15)
        let lora = try refusal("control-lora.safetensors") { t in
            t = ["lora_controlnet": Tensor(zeros: [1]), "input_blocks.1.0.in_layers.2.lora_up.weight": Tensor(zeros: [4, 2])]
        }
        XCTAssertTrue(lora.contains("Control-LoRA") && lora.contains("holds no ControlNet"), lora)
        let unet = try refusal("unet.safetensors") { t in t = ["model.diffusion_model.input_blocks.0.0.weight": Tensor(zeros: [8, 4, 3, 3])] }
        XCTAssertTrue(unet.contains("--unet"), unet)
        let noAttention = try refusal("no-mid-attention.safetensors") { t in t = t.filter { !$0.key.contains("middle_block.1.") } }
        XCTAssertTrue(noAttention.contains("second mid-block resnet but no mid-block attention"), noAttention)
    }

    /// A pickled file is refused from its first bytes with the command that converts it, as --unet's.
    func testAPickledFileIsRefusedWithTheConversion() throws {
        let path = dir + "/OpenPoseXL2.bin"
        try Data([0x80, 0x02, 0x7d, 0x71, 0x00]).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ControlNetFiles(path: path, base: try baseUNet())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("pickled PyTorch file") && text.contains("save_file(") && text.contains("OpenPoseXL2.safetensors"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
    }

    /// bf16 (weights packed to bfloat16, float32 accumulation): its error against diffusers'
    /// float32 residuals is at most 1.5x diffusers' own torch.bfloat16 error, largest and mean.
    func testBF16ErrorIsAtMostOneAndAHalfTimesDiffusersBF16Error() throws {
        let e = try Expected("controlnet-bf16")
        var files = try ControlNetFiles(path: folder)
        let f32 = try run(files, scale: 1)
        files.precision = .bf16
        let bf16 = try run(files, scale: 1)
        let names = (0..<f32.down.count).map { "down.\($0)" } + ["mid"]
        XCTAssertEqual(names.count, e.file.tensorNames.filter { $0.hasPrefix("fp32.") }.count)
        func residual(_ r: ControlNetResiduals, _ name: String) -> Tensor { name == "mid" ? r.mid : r.down[Int(name.dropFirst(5)) ?? 0] }
        var kilnWorst: Float = 0, torchWorst: Float = 0, kilnSum: Float = 0, torchSum: Float = 0, count: Float = 0, scaleMax: Float = 0
        for name in names {
            let reference = try e.image("fp32." + name), torch16 = try e.image("bf16." + name)
            XCTAssertLessThanOrEqual(residual(f32, name).relativeError(to: reference), 1e-4, "\(name): float32 is diffusers'")
            for (k, (r, t)) in zip(residual(bf16, name).scalars, zip(reference.scalars, torch16.scalars)) {
                kilnWorst = max(kilnWorst, abs(k - r)); torchWorst = max(torchWorst, abs(t - r))
                kilnSum += abs(k - r); torchSum += abs(t - r); count += 1; scaleMax = max(scaleMax, abs(r))
            }
        }
        print(String(format: "ControlNet bf16 vs diffusers float32, relative to the largest residual %.3f: Kiln largest %.5f mean %.6f; diffusers bf16 largest %.5f mean %.6f",
                     scaleMax, kilnWorst / scaleMax, kilnSum / count / scaleMax, torchWorst / scaleMax, torchSum / count / scaleMax))
        XCTAssertGreaterThan(kilnWorst, 0, "bf16 rounds, so some value moves")
        XCTAssertLessThanOrEqual(kilnWorst, 1.5 * torchWorst, "largest error")
        XCTAssertLessThanOrEqual(kilnSum / count, 1.5 * torchSum / count, "mean error")
    }
}
