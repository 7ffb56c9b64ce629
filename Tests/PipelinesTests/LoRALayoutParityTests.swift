import Adapters
import Foundation
import KilnTestSupport
import ModelFiles
import Numerics
import Pipelines
import Schedulers
import XCTest

/// LoRA files in the key layouts few-step LoRAs ship in (kohya with diffusers or SGM block
/// names and alphas, diffusers' older attention-processor form), each loaded by diffusers'
/// `load_lora_weights` and rendered with a few-step recipe: LCM, DDIM or Euler with trailing
/// timesteps, TCD with eta (expected/lora-layouts.json).
final class LoRALayoutParityTests: XCTestCase {
    struct Layout: Decodable {
        let name: String
        let layout: String
        let file: String
        let scheduler_config: [String: String]
        let scale: Double
        let tensors: Int
    }

    static let models = ModelCache()

    static func layouts() throws -> [(Layout, RenderParityTests.Case)] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("lora-layouts.json")))
        return Array(zip(try JSONDecoder().decode([Layout].self, from: data), try JSONDecoder().decode([RenderParityTests.Case].self, from: data)))
    }

    func testEveryLayoutRendersAsDiffusersDoes() throws {
        let layouts = try LoRALayoutParityTests.layouts()
        XCTAssertEqual(Set(layouts.map(\.0.layout)), ["kohya-diffusers-names", "kohya-sgm", "diffusers-old"])
        XCTAssertEqual(layouts.filter { $0.0.scheduler_config["timestep_spacing"] == "trailing" }.count, 2, "Lightning's and Hyper-SD's recipes")
        for (layout, c) in layouts {
            var request = try RenderParityTests.request(c)
            request.eta = c.args["eta"]?.number
            for (key, value) in layout.scheduler_config { request.schedulerConfig[key] = SchedulerConfigValue(text: value) }
            let path = Fixtures.path("loras/" + layout.file)
            request.loras = [LoRAReference(file: path, sha256: SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path))), scale: layout.scale)]
            let session = try RenderSession(request: request, model: ModelReference(path: Fixtures.model("tiny-sdxl-base")),
                                            models: LoRALayoutParityTests.models)
            guard case .images(let images) = try session.run(progress: { _, _ in true }) else { XCTFail("\(layout.name): no images"); continue }
            let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("lora-layout-" + layout.name).tensor("pixels"))
            XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(layout.name): \(result)")
        }
    }

    /// Every pair of each file becomes a module (diffusers loaded them all), in the components
    /// the file has: kohya's alphas give 3/2, the older diffusers forms (no alphas) 1.
    func testEveryPairOfEachLayoutIsAModule() throws {
        for (layout, _) in try LoRALayoutParityTests.layouts() {
            let file = try LoRAFile(path: Fixtures.path("loras/" + layout.file))
            let kohya = layout.layout.hasPrefix("kohya")
            XCTAssertEqual(file.modules.count, layout.tensors / (kohya ? 3 : 2), layout.name)
            let components = Set(file.modules.map(\.component))
            XCTAssertEqual(components, layout.layout == "kohya-diffusers-names" ? ["unet"] : ["unet", "text_encoder", "text_encoder_2"], layout.name)
            let unet = file.modules.filter { $0.component == "unet" }
            XCTAssertEqual(Set(unet.map(\.factor)), [kohya ? 1.5 : 1], layout.name)
        }
        let old = try LoRAFile(path: Fixtures.path("loras/layout-diffusers-old.safetensors"))
        XCTAssertTrue(old.modules.contains { $0.name.hasSuffix("attn1.to_out.0") && $0.key.contains("processor.to_out_lora.down") })
        XCTAssertTrue(old.modules.contains { $0.name.hasSuffix("self_attn.q_proj") && $0.key.contains("self_attn.to_q_lora.down") })
    }

    // MARK: layouts diffusers does not read, or reads only in part: refused naming the key

    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Writes the tensors in this order (the data order diffusers reads keys in).
    func refused(_ tensors: [(String, [Int])], mentions: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let path = dir + "/bad.safetensors"
        try SafetensorsWriter.data(tensors.map { ($0.0, Tensor(repeating: 0.01, shape: $0.1)) }).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try LoRAFile(path: path), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
            for m in mentions + ["bad.safetensors"] { XCTAssertTrue(text.contains(m), "\(text) lacks \(m)", file: file, line: line) }
        }
    }

    static let attn = "down_blocks.1.attentions.0.transformer_blocks.0.attn1"

    func testKeysDiffusersWouldDropOrRefuseAreRefused() throws {
        let a = LoRALayoutParityTests.attn
        // lora_A first: diffusers leaves the later lora.down pair unconverted and drops it.
        try refused([("unet.\(a).to_k.lora_A.weight", [2, 8]), ("unet.\(a).to_k.lora_B.weight", [8, 2]),
                     ("unet.\(a).to_q.lora.down.weight", [2, 8]), ("unet.\(a).to_q.lora.up.weight", [8, 2])],
                    mentions: ["\(a).to_q.lora.down.weight", "first UNet key is lora_A"])
        // lora_linear_layer is a text-encoder form; diffusers fails on it in the UNet.
        try refused([("unet.\(a).to_q.lora_linear_layer.down.weight", [2, 8]), ("unet.\(a).to_q.lora_linear_layer.up.weight", [8, 2])],
                    mentions: ["lora_linear_layer.down", "not a unet LoRA form"])
        // Keys without "lora" (a diffusers-layout alpha) make diffusers refuse the file.
        try refused([("unet.\(a).to_q.lora.down.weight", [2, 8]), ("unet.\(a).to_q.lora.up.weight", [8, 2]), ("unet.\(a).to_q.alpha", [])],
                    mentions: ["to_q.alpha", "no 'lora'"])
        // lora.down is a UNet form; in a text encoder diffusers cannot tell the file's type.
        try refused([("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora.down.weight", [2, 16]),
                     ("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora.up.weight", [16, 2])],
                    mentions: ["q_proj.lora.down.weight", "text_encoder LoRA form"])
        // The attention-processor form without the unet. prefix: diffusers loads nothing of it.
        try refused([("\(a).processor.to_q_lora.down.weight", [2, 8]), ("\(a).processor.to_q_lora.up.weight", [8, 2])],
                    mentions: ["processor.to_q_lora.down.weight", "unet."])
        // An up without its down.
        try refused([("unet.\(a).to_q.lora_A.weight", [2, 8]), ("unet.\(a).to_q.lora_B.weight", [8, 2]), ("unet.\(a).to_k.lora_B.weight", [8, 2])],
                    mentions: ["to_k.lora_B.weight", "has no unet.\(a).to_k.lora_A.weight"])
    }

    func testKohyaKeysOutsideItsLayoutAreRefused() throws {
        let k = "lora_unet_down_blocks_1_attentions_0_proj_in"
        try refused([("\(k).lora_down.weight", [2, 16]), ("\(k).lora_up.weight", [16, 2]), ("unet.down_blocks.1.attentions.0.proj_out.lora_A.weight", [2, 16]),
                     ("unet.down_blocks.1.attentions.0.proj_out.lora_B.weight", [16, 2])],
                    mentions: ["unet.down_blocks.1.attentions.0.proj_out.lora_A.weight", "not a kohya key"])
        try refused([("\(k).lora_down.weight", [2, 16]), ("\(k).lora_up.weight", [16, 2]), ("lora_unet_input_blocks_4_1_proj_out.lora_down.weight", [2, 16]),
                     ("lora_unet_input_blocks_4_1_proj_out.lora_up.weight", [16, 2])],
                    mentions: ["lora_unet_input_blocks_4_1_proj_out.lora_down.weight", "SGM block numbering"])
        try refused([("\(k).hada_w1_a", [16, 2]), ("\(k).hada_w1_b", [2, 16]), ("\(k).alpha", [])], mentions: ["\(k).hada_w1_a", "LoHa"])
        try refused([("\(k).lora_down.weight", [2, 16]), ("\(k).lora_up.weight", [16, 2]), ("\(k).dora_scale", [1, 16])],
                    mentions: ["\(k).dora_scale", "DoRA"])
        try refused([("\(k).lora_down.weight", [2, 16]), ("\(k).lora_up.weight", [16, 2]), ("lora_unet_mid_block_attentions_0_proj_in.alpha", [])],
                    mentions: ["lora_unet_mid_block_attentions_0_proj_in.alpha", "has no lora_unet_mid_block_attentions_0_proj_in.lora_down.weight"])
    }
}
