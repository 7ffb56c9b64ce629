import Foundation
import KilnTestSupport
import ModelFiles
import Numerics
import XCTest

final class InspectCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A private copy of a fixture model to damage.
    func copyModel(_ name: String) throws -> String {
        let dest = dir + "/" + name
        try FileManager.default.copyItem(atPath: Fixtures.model(name), toPath: dest)
        return dest
    }


    func testParameterCountsEqualTheReference() throws {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("parameter_counts.json")))
        let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: [String: Any]]])
        XCTAssertEqual(reference.count, 3)
        for (model, components) in reference {
            let r = try KilnProcess.run(["inspect", "--model", Fixtures.model(model)])
            XCTAssertEqual(r.status, 0, r.stderr)
            let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            XCTAssertEqual(lines.count, components.count, r.stdout)
            for fields in lines {
                let entry = try XCTUnwrap(components[fields[0]], "unexpected component \(fields[0])")
                XCTAssertEqual(fields[1], entry["class"] as? String)
                XCTAssertEqual(fields[2], "float32")
                XCTAssertEqual(Int(fields[3]), (entry["parameters"] as? NSNumber)?.intValue, "\(model) \(fields[0])")
            }
        }
    }

    func testFP16VariantIsReported() throws {
        let r = try KilnProcess.run(["inspect", "--model", Fixtures.model("tiny-sdxl-base"), "--variant", "fp16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("text_encoder CLIPTextModel float16 24728"), r.stdout)
    }

    func testMissingModelPath() throws {
        try assertOneLineFailure(["inspect", "--model", dir + "/nowhere"], mentions: ["nowhere", "not found"])
    }

    func testMissingComponentFolder() throws {
        let m = try copyModel("tiny-sdxl-base")
        try FileManager.default.removeItem(atPath: m + "/vae")
        try assertOneLineFailure(["inspect", "--model", m], mentions: ["'vae' is missing"])
    }

    func testMissingModelIndex() throws {
        let m = try copyModel("tiny-sdxl-base")
        try FileManager.default.removeItem(atPath: m + "/model_index.json")
        try assertOneLineFailure(["inspect", "--model", m], mentions: ["model_index.json"])
    }

    func testTruncatedShard() throws {
        let m = try copyModel("tiny-sdxl-base")
        let shard = m + "/unet/diffusion_pytorch_model-00002-of-00004.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: shard))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: shard))
        try assertOneLineFailure(["inspect", "--model", m], mentions: ["diffusion_pytorch_model-00002-of-00004.safetensors", "truncated"])
    }

    func testMissingTensor() throws {
        let m = try copyModel("tiny-sdxl-refiner")
        let path = m + "/text_encoder_2/model.safetensors"
        let file = try SafetensorsFile(path: path)
        let kept = try file.tensorNames.filter { $0 != "text_projection.weight" }.map { ($0, try file.load($0)) }
        try SafetensorsWriter.data(kept.map { (name: $0.0, tensor: $0.1) }).write(to: URL(fileURLWithPath: path))
        try assertOneLineFailure(["inspect", "--model", m], mentions: ["text_projection.weight", "missing", "model.safetensors"])
    }

    func editConfig(_ path: String, _ change: (inout [String: Any]) -> Void) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    func testShapeContradictingConfig() throws {
        let m = try copyModel("tiny-sdxl-refiner")
        try editConfig(m + "/text_encoder_2/config.json") { $0["intermediate_size"] = 80 }
        try assertOneLineFailure(["inspect", "--model", m], mentions: ["mlp.fc1.weight", "[72, 32]", "[80, 32]"])
    }

    func testUnknownConfigValue() throws {
        let m = try copyModel("tiny-sdxl-base")
        try editConfig(m + "/unet/config.json") { $0["down_block_types"] = ["DownBlock2D", "SimpleCrossAttnDownBlock2D", "CrossAttnDownBlock2D"] }
        try assertOneLineFailure(["inspect", "--model", m], mentions: ["unet/config.json", "down_block_types", "SimpleCrossAttnDownBlock2D"])
        let m2 = dir + "/second"
        try FileManager.default.copyItem(atPath: Fixtures.model("tiny-sdxl-base"), toPath: m2)
        try editConfig(m2 + "/text_encoder/config.json") { $0["hidden_act"] = "relu2" }
        try assertOneLineFailure(["inspect", "--model", m2], mentions: ["text_encoder/config.json", "hidden_act", "relu2"])
    }

    func testCorruptConfigJSON() throws {
        let m = try copyModel("tiny-sdxl-base")
        try Data("{ broken".utf8).write(to: URL(fileURLWithPath: m + "/vae/config.json"))
        try assertOneLineFailure(["inspect", "--model", m], mentions: ["vae/config.json", "not a JSON object"])
    }
}

final class InspectSingleFileTests: XCTestCase {
    func testSingleFileCountsEqualTheFolderReference() throws {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("parameter_counts.json")))
        let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: [String: Any]]])
        for (file, folder) in [("tiny-sdxl-base-single-file.safetensors", "tiny-sdxl-base"),
                               ("tiny-sdxl-refiner-single-file.fp16.safetensors", "tiny-sdxl-refiner")] {
            let r = try KilnProcess.run(["inspect", "--model", Fixtures.model(file), "--config", Fixtures.model(folder)])
            XCTAssertEqual(r.status, 0, r.stderr)
            let components = try XCTUnwrap(reference[folder])
            let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            XCTAssertEqual(lines.count, components.count)
            for f in lines {
                XCTAssertEqual(Int(f[3]), (components[f[0]]?["parameters"] as? NSNumber)?.intValue, "\(file) \(f[0])")
                XCTAssertEqual(f[1], components[f[0]]?["class"] as? String)
            }
        }
    }

    func testSingleFileWithoutMatchingConfigFailsInOneLine() throws {
        let r = try KilnProcess.run(["inspect", "--model", Fixtures.model("tiny-sdxl-base-single-file.safetensors")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("but the config implies"), r.stderr)
    }
}
