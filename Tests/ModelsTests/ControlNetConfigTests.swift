import Foundation
import KilnTestSupport
import ModelFiles
import Models
import XCTest

/// A ControlNet's config.json is checked on its own and against the base's UNet config before
/// any weight loads; each refusal is one line naming the file and key.
final class ControlNetConfigTests: XCTestCase {
    /// The tiny ControlNet's config.json with `edit` applied, written to a folder with no weights.
    func folder(_ edit: (inout [String: Any]) -> Void) throws -> String {
        let source = Fixtures.model("tiny-controlnet") + "/config.json"
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source))) as? [String: Any])
        edit(&object)
        let dir = try Fixtures.temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }

    func baseUNet() throws -> UNetConfig { try UNetConfig(try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base")).config("unet")) }

    func assertOneLine(_ error: Error, mentions words: [String], file: StaticString = #filePath, line: UInt = #line) {
        let text = "\(error)"
        for w in words { XCTAssertTrue(text.contains(w), "\(text) lacks \(w)", file: file, line: line) }
        XCTAssertFalse(text.contains("\n"), file: file, line: line)
    }

    func testTheFixtureFitsTheBase() throws {
        let files = try ControlNetFiles(path: Fixtures.model("tiny-controlnet"))
        XCTAssertNoThrow(try files.config.check(fits: try baseUNet()))
        XCTAssertEqual(files.config.downscale, 8)
    }

    func testAnSD15ControlNetIsRefused() throws {
        // lllyasviel/sd-controlnet-canny's config: no added embedding, 768-wide cross-attention.
        let dir = try folder {
            $0["addition_embed_type"] = NSNull(); $0["addition_time_embed_dim"] = NSNull()
            $0["projection_class_embeddings_input_dim"] = NSNull(); $0["cross_attention_dim"] = 768
        }
        XCTAssertThrowsError(try ControlNetFiles(path: dir)) { assertOneLine($0, mentions: ["config.json", "SD 1.5", "SDXL"]) }
    }

    func testSizesThatDoNotFitTheBaseAreRefusedBeforeLoading() throws {
        let cases: [(String, Any)] = [("cross_attention_dim", 2048), ("projection_class_embeddings_input_dim", 2816),
                                      ("addition_time_embed_dim", 256), ("in_channels", 9), ("block_out_channels", [4, 16, 24]),
                                      ("layers_per_block", 1)]
        for (key, value) in cases {
            let dir = try folder { $0[key] = value }
            let files = try ControlNetFiles(path: dir)  // the config alone is sound; no weights are read
            XCTAssertThrowsError(try files.config.check(fits: try baseUNet()), key) {
                assertOneLine($0, mentions: ["config.json", key, "base"])
            }
        }
    }

    func testTheRefinersUNetIsNotItsBase() throws {
        let refiner = try UNetConfig(try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-refiner")).config("unet"))
        let files = try ControlNetFiles(path: Fixtures.model("tiny-controlnet"))
        XCTAssertThrowsError(try files.config.check(fits: refiner)) { assertOneLine($0, mentions: ["cross_attention_dim"]) }
    }

    func testOtherRefusals() throws {
        let cases: [(String, Any, String)] = [("_class_name", "UNet2DConditionModel", "_class_name"),
                                              ("controlnet_conditioning_channel_order", "gbr", "controlnet_conditioning_channel_order"),
                                              ("conditioning_channels", 1, "conditioning_channels"),
                                              ("conditioning_embedding_out_channels", [], "conditioning_embedding_out_channels"),
                                              ("mid_block_type", "UNetMidBlock2DSimpleCrossAttn", "mid_block_type")]
        for (key, value, named) in cases {
            let dir = try folder { $0[key] = value }
            XCTAssertThrowsError(try ControlNetFiles(path: dir), key) { assertOneLine($0, mentions: ["config.json", named]) }
        }
        XCTAssertThrowsError(try ControlNetFiles(path: Fixtures.model("tiny-controlnet") + "/config.json")) {
            assertOneLine($0, mentions: ["ControlNet folder"])
        }
        let empty = try folder { _ in }
        XCTAssertThrowsError(try ControlNetFiles(path: empty).load()) { assertOneLine($0, mentions: ["safetensors"]) }
    }
}
