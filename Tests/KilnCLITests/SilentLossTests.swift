import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// Renders that used to lose something without saying so.
final class SilentLossTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A copy of the tiny base model with NaN written into the first value of `tensor` of the UNet.
    func modelWithNaN(in tensor: String) throws -> String {
        let copy = dir + "/nan-model"
        try FileManager.default.copyItem(atPath: Fixtures.model("tiny-sdxl-base"), toPath: copy)
        let index = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: copy + "/unet/diffusion_pytorch_model.safetensors.index.json"))) as? [String: Any])
        let shard = try XCTUnwrap((index["weight_map"] as? [String: String])?[tensor])
        let url = URL(fileURLWithPath: copy + "/unet/" + shard)
        var data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
        let entry = try XCTUnwrap(header[tensor] as? [String: Any])
        XCTAssertEqual(entry["dtype"] as? String, "F32")
        let start = 8 + headerLength + (try XCTUnwrap((entry["data_offsets"] as? [Int])?.first))
        withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { data.replaceSubrange(start..<(start + 4), with: $0) }
        try data.write(to: url)
        return copy
    }

    func testNaNWeightsFailTheRenderNamingTheModel() throws {
        let model = try modelWithNaN(in: "conv_in.bias")
        let output = dir + "/black.png"
        let r = try KilnProcess.run(["render", "--model", model, "--prompt", "a fox", "--width", "64", "--height", "64",
                                     "--steps", "2", "--seed", "1", "--output", output])
        XCTAssertNotEqual(r.status, 0, "an all-black image was written with exit 0")
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(model) && r.stderr.contains("NaN"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    func testNonLatin1PromptSurvivesInBothTextChunks() throws {
        let prompt = "café 猫 🐱"
        let output = dir + "/cat.png"
        let r = try KilnProcess.run(["render", "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", prompt, "--width", "64",
                                     "--height", "64", "--steps", "2", "--seed", "1", "--output", output])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try PNGFile.read(output).text
        XCTAssertTrue(text["parameters"]?.hasPrefix(prompt) ?? false, text["parameters"] ?? "no parameters chunk")
        XCTAssertTrue(text["kiln"]?.contains(prompt) ?? false, text["kiln"] ?? "no kiln chunk")
    }
}
