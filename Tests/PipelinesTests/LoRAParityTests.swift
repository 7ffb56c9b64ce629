import Adapters
import Foundation
import KilnTestSupport
import ModelFiles
import Numerics
import Pipelines
import XCTest

/// LoRAs against diffusers' load_lora_weights + set_adapters on the tiny base model
/// (Tests/Fixtures/expected/loras.json), in diffusers/PEFT and kohya layouts.
final class LoRAParityTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let request: RenderRequest
    }

    static let cases: Result<[String: RenderRequest], Error> = Result {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.expected("loras.json")))
        return Dictionary(uniqueKeysWithValues: try JSONDecoder().decode([Case].self, from: data).map { ($0.name, $0.request) })
    }

    static func lora(_ file: String, _ scale: Double) throws -> LoRAReference {
        let path = Fixtures.path("loras/\(file)")
        return LoRAReference(file: path, sha256: SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path))), scale: scale)
    }

    func render(_ reference: String, _ loras: [LoRAReference], models: ModelCache = ModelCache()) throws {
        var request = try XCTUnwrap(try LoRAParityTests.cases.get()[reference])
        request.loras = loras
        let session = try RenderSession(request: request, model: ModelReference(path: Fixtures.model("tiny-sdxl-base")), models: models)
        guard case .images(let images) = try session.run() else { return XCTFail("no images") }
        let result = PixelComparison(images.map { ($0.width, $0.height, $0.pixels) }, try Expected("lora-" + reference).tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(reference): \(result)")
    }

    func testPEFTLayoutOnUNetAndBothTextEncoders() throws {
        try render("lantern-peft", [try LoRAParityTests.lora("lantern-peft.safetensors", 0.8)])
    }

    /// The same LoRA written in kohya's layout (SGM block names, LoCon convolutions, alphas).
    func testKohyaLayoutGivesTheSameImage() throws {
        try render("lantern-peft", [try LoRAParityTests.lora("lantern-kohya.safetensors", 0.8)])
    }

    func testTwoLoRAsAtOnce() throws {
        try render("two-loras", [try LoRAParityTests.lora("lantern-peft.safetensors", 0.8), try LoRAParityTests.lora("river-kohya.safetensors", 0.5)])
    }

    func testEveryKohyaKeyFindsTheModuleItsPEFTTwinNames() throws {
        let peft = try LoRAFile(path: Fixtures.path("loras/lantern-peft.safetensors"))
        let kohya = try LoRAFile(path: Fixtures.path("loras/lantern-kohya.safetensors"))
        XCTAssertEqual(peft.modules.count, kohya.modules.count)
        XCTAssertTrue(kohya.modules.contains { $0.name.contains("in_layers_2") }, "LoCon: resnet convolutions")
        XCTAssertEqual(Set(peft.modules.map(\.component)), ["unet", "text_encoder", "text_encoder_2"])
    }

    func testSameLoRASetIsMergedOnceAcrossRenders() throws {
        let models = ModelCache()
        let a = try LoRAParityTests.lora("lantern-peft.safetensors", 0.8)
        try render("lantern-peft", [a], models: models)
        try render("lantern-peft", [a], models: models)
        XCTAssertEqual(models.loads, 1)
        var other = a
        other.scale = 0.4
        var request = try XCTUnwrap(try LoRAParityTests.cases.get()["lantern-peft"])
        request.loras = [other]
        _ = try RenderSession(request: request, model: ModelReference(path: Fixtures.model("tiny-sdxl-base")), models: models).run()
        XCTAssertEqual(models.loads, 2, "another scale is another merge")
    }
}
