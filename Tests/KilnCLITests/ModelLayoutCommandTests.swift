import Foundation
import Imaging
import KilnTestSupport
import Numerics
import XCTest

/// Model files as users have them, through real `kiln` processes: a pipeline saved by
/// transformers 5 (tokenizer.json only), single files tokenized with the bundled CLIP vocabulary,
/// and the files Kiln refuses.
final class ModelLayoutCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func pixels(_ path: String) throws -> RGBImage { try PNGFile.read(path).image }

    /// diffusers' render of the pipeline it saved with transformers 5, within 1/255.
    func testTransformers5FolderRendersDiffusersImage() throws {
        let model = Fixtures.model("tiny-sdxl-base-tf5")
        for sub in ["tokenizer", "tokenizer_2"] {
            let files = try FileManager.default.contentsOfDirectory(atPath: model + "/" + sub).sorted()
            XCTAssertEqual(files, ["tokenizer.json", "tokenizer_config.json"], sub)
        }
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("render-tf5.json")))
        let c = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let args = try XCTUnwrap(c["args"] as? [String: Any])
        let r = try KilnProcess.run(["render", "--model", model, "--output", dir + "/tf5.png", "--no-watermark",
                                     "--seed", "\(try XCTUnwrap(c["seed"] as? NSNumber).intValue)",
                                     "--scheduler", try XCTUnwrap(c["scheduler"] as? String)] + RenderCommandTests.flags(args))
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = try pixels(dir + "/tf5.png")
        let comparison = PixelComparison([(image.width, image.height, image.pixels)], try Expected("render-tf5").tensor("pixels"))
        XCTAssertTrue(comparison.sizesMatch, "\(comparison)")
        XCTAssertLessThanOrEqual(comparison.worst, 1, "\(comparison)")
    }

    /// A single file at CLIP's full vocabulary, tokenized with the bundled vocabulary (its config
    /// folder has no tokenizers), renders the same pixels as the folder holding the same weights
    /// and the vocabulary as tokenizer files.
    func testFullVocabularySingleFileRendersAsTheFolder() throws {
        let m = try SingleFileFixtures.fullVocabularyModel(in: dir)
        let common = ["--prompt", "a photo of an astronaut riding a horse on mars!", "--negative-prompt", "blurry",
                      "--steps", "3", "--width", "64", "--height", "64", "--seed", "5", "--no-watermark"]
        let a = try KilnProcess.run(["render", "--model", m.singleFile, "--config", m.configs, "--output", dir + "/single.png"] + common)
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try KilnProcess.run(["render", "--model", m.folder, "--output", dir + "/folder.png"] + common)
        XCTAssertEqual(b.status, 0, b.stderr)
        let (x, y) = (try pixels(dir + "/single.png"), try pixels(dir + "/folder.png"))
        XCTAssertEqual(x.width, 64)
        XCTAssertTrue(x.pixels == y.pixels, "single file and folder renders differ")
    }

    /// Without --config a single file takes the published configs (and the bundled vocabulary):
    /// the tiny weights contradict the full-size config, and the one line says where.
    func testSingleFileWithoutConfigUsesThePublishedConfigs() throws {
        let r = try KilnProcess.run(["render", "--model", Fixtures.model("tiny-sdxl-base-single-file.safetensors"),
                                     "--prompt", "a fox", "--output", dir + "/x.png"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("but the config implies"), r.stderr)
    }

    func testPickledCheckpointIsRefusedInOneLine() throws {
        let path = dir + "/sd_xl_base_1.0.ckpt"
        try Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 60)).write(to: URL(fileURLWithPath: path))
        let r = try KilnProcess.run(["render", "--model", path, "--prompt", "a fox", "--output", dir + "/x.png"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(path) && r.stderr.contains("convert it to .safetensors"), r.stderr)
    }

    func testTokenizerJSONThatIsNotBPEIsRefusedInOneLine() throws {
        let model = dir + "/model"
        try FileManager.default.copyItem(atPath: Fixtures.model("tiny-sdxl-base-tf5"), toPath: model)
        let path = model + "/tokenizer_2/tokenizer.json"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["model"] = ["type": "Unigram", "unk_id": 0, "vocab": [["a", -1.0]]] as [String: Any]
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        let r = try KilnProcess.run(["render", "--model", model, "--prompt", "a fox", "--output", dir + "/x.png"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(path) && r.stderr.contains("Unigram, not BPE"), r.stderr)
    }
}
