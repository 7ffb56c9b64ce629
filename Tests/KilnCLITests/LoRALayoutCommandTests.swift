import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// `kiln render --lora FILE:SCALE` with a LoRA in diffusers' older attention-processor form,
/// on the TCD recipe, against diffusers' image of the same file (expected/lora-layouts.json).
final class LoRALayoutCommandTests: XCTestCase {
    func testOlderDiffusersLayoutRendersAsDiffusersDoes() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lora = Fixtures.path("loras/layout-diffusers-old.safetensors"), out = dir + "/old.png"
        let r = try KilnProcess.run(["render", "--model", Fixtures.model("tiny-sdxl-base"), "--prompt", "a lighthouse on a cliff at dawn",
                                     "--negative-prompt", "fog", "--steps", "4", "--guidance", "1.5", "--scheduler", "tcd", "--eta", "0.3",
                                     "--width", "56", "--height", "72", "--seed", "23", "--no-watermark", "--lora", lora + ":0.8", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let picture = try PNGFile.read(out)
        let result = PixelComparison([(picture.image.width, picture.image.height, picture.image.pixels)],
                                     try Expected("lora-layout-diffusers-old").tensor("pixels"))
        XCTAssertTrue(result.sizesMatch && result.worst <= 1, "\(result)")
    }
}
