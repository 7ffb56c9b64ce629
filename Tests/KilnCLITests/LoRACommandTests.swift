import Foundation
import Imaging
import KilnTestSupport
import ModelFiles
import Numerics
import XCTest

/// LoRAs through real `kiln` processes: the option, provenance, sweeps over scales, bad files.
final class LoRACommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }
    let base = Fixtures.model("tiny-sdxl-base")
    let lantern = Fixtures.path("loras/lantern-peft.safetensors")

    func kiln(_ args: [String]) throws -> KilnRun { try KilnProcess.run(args) }

    func write(_ name: String, _ tensors: [(String, [Int])]) throws -> String {
        let path = dir + "/" + name
        let data = try SafetensorsWriter.data(tensors.map { ($0.0, Tensor(repeating: 0.01, shape: $0.1)) })
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }


    func testRenderWithALoRARecordsItAsImageToolsReadIt() throws {
        let out = dir + "/out.png"
        let r = try kiln(["render", "--model", base, "--prompt", "a paper lantern on a river at night", "--steps", "6", "--width", "64",
                          "--height", "48", "--seed", "13", "--no-watermark", "--lora", lantern + ":0.8", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let picture = try PNGFile.read(out)
        let result = PixelComparison([(picture.image.width, picture.image.height, picture.image.pixels)], try Expected("lora-lantern-peft").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
        let parameters = picture.text["parameters"] ?? ""
        // The short hash of A1111/addnet: SHA-256 of the tensor data after the header (computed
        // with Python's hashlib when the fixture was made).
        XCTAssertTrue(parameters.contains("Lora hashes: \"lantern-peft: 83eda60021ea\""), parameters)
    }

    func testSweepOverThreeScalesMergesEachScaleOnce() throws {
        let db = dir + "/q.db", spec = dir + "/spec.yaml"
        try """
        model: \(base)
        base: {prompt: a lantern, steps: 2, width: 64, height: 48, watermark: false}
        axes:
          lora: ["\(lantern):0.2", "\(lantern):0.5", "\(lantern):0.8"]
          seed: [1, 2]
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        XCTAssertEqual(try kiln(["sweep", "--db", db, spec]).status, 0)
        let r = try kiln(["work", "--db", db, "--until-empty"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("models built: 3"), r.stdout)
        let rows = try KilnProcess.query(db, "SELECT json_extract(loras, '$[0].scale'), COUNT(*) FROM v_outputs GROUP BY 1 ORDER BY 1")
        XCTAssertEqual(rows, ["0.2,2", "0.5,2", "0.8,2"])
    }

    func testBadLoRAFilesFailInOneLine() throws {
        let render = ["render", "--model", base, "--prompt", "x", "--steps", "1", "--width", "64", "--height", "48", "--output", dir + "/o.png"]
        let unknown = try write("unknown.safetensors", [("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_zz.lora_A.weight", [2, 16]),
                                                        ("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_zz.lora_B.weight", [16, 2])])
        try assertOneLineFailure(render + ["--lora", unknown], mentions: ["unknown.safetensors", "to_zz", "names no module"])
        let shape = try write("shape.safetensors", [("unet.down_blocks.1.attentions.0.proj_in.lora_A.weight", [2, 7]),
                                                    ("unet.down_blocks.1.attentions.0.proj_in.lora_B.weight", [16, 2])])
        try assertOneLineFailure(render + ["--lora", shape], mentions: ["shape.safetensors", "proj_in", "rank"])
        let sd15 = try write("sd15.safetensors", [("lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", [2, 768]),
                                                  ("lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", [768, 2])])
        try assertOneLineFailure(render + ["--lora", sd15], mentions: ["sd15.safetensors", "Stable Diffusion 1"])
        let db = dir + "/q.db"
        try assertOneLineFailure(["enqueue", "--db", db, "--model", base, "--prompt", "x", "--lora", sd15], mentions: ["sd15.safetensors"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "refused when queued, nothing written")
        let notLoRA = try write("weights.safetensors", [("conv.weight", [4, 4])])
        try assertOneLineFailure(render + ["--lora", notLoRA], mentions: ["weights.safetensors", "not a LoRA"])
        try assertOneLineFailure(render + ["--lora", lantern + ":99"], mentions: ["--lora", "scale"])
        let wide = try write("wide.safetensors", [("emb_params", [1, 24])])
        try assertOneLineFailure(render + ["--embedding", wide], mentions: ["wide.safetensors", "fits neither text encoder"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o.png"))
    }
}
