import Foundation
import KilnTestSupport
import ModelFiles
import Models
import XCTest

/// Hostile config.json values are refused when the config is parsed, in one line naming the
/// file and key, before any division by them or allocation sized by them.
final class ConfigBoundsTests: XCTestCase {
    /// The fixture's `component/config.json` with `edit` applied.
    func config(_ component: String, _ edit: (inout [String: Any]) -> Void) throws -> ConfigFile {
        let path = Fixtures.model("tiny-sdxl-base") + "/\(component)/config.json"
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        edit(&object)
        return try ConfigFile(path: path, data: JSONSerialization.data(withJSONObject: object))
    }

    func assertRefused(_ make: () throws -> Void, key: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try make(), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("config.json") && text.contains(key), "\(text)", file: file, line: line)
            XCTAssertFalse(text.contains("\n"), file: file, line: line)
        }
    }

    func testUNetRefusesZeroOrNegativeGroups() throws {
        for groups in [0, -4] {
            let c = try config("unet") { $0["norm_num_groups"] = groups }
            assertRefused({ _ = try UNetConfig(c) }, key: "norm_num_groups")
        }
    }

    func testVAERefusesZeroOrNegativeGroups() throws {
        for groups in [0, -4] {
            let c = try config("vae") { $0["norm_num_groups"] = groups }
            assertRefused({ _ = try VAEConfig(c) }, key: "norm_num_groups")
        }
    }

    func testHugeLayerCountsAreRefusedBeforeAllocating() throws {
        let unet = try config("unet") { $0["layers_per_block"] = 1_000_000_000 }
        assertRefused({ _ = try UNetConfig(unet) }, key: "layers_per_block")
        let vae = try config("vae") { $0["layers_per_block"] = 1_000_000_000 }
        assertRefused({ _ = try VAEConfig(vae) }, key: "layers_per_block")
        let clip = try config("text_encoder") { $0["num_hidden_layers"] = 1_000_000_000 }
        assertRefused({ _ = try CLIPTextConfig(clip) }, key: "num_hidden_layers")
    }

    func testImpliedParameterCountIsBounded() throws {
        // Every value within its own bounds, but together far beyond any real model.
        let unet = try config("unet") {
            $0["block_out_channels"] = [8192, 8192, 8192]
            $0["layers_per_block"] = 64
            $0["transformer_layers_per_block"] = 64
            $0["norm_num_groups"] = 32
            $0["attention_head_dim"] = 8
        }
        assertRefused({ _ = try UNetConfig(unet) }, key: "layers_per_block")
        let clip = try config("text_encoder") { $0["hidden_size"] = 16384; $0["num_hidden_layers"] = 128; $0["num_attention_heads"] = 16 }
        assertRefused({ _ = try CLIPTextConfig(clip) }, key: "num_hidden_layers")
    }

    func testOtherSizesAreBounded() throws {
        let cases: [(String, String, Any)] = [
            ("unet", "in_channels", -1), ("unet", "sample_size", 1e12), ("unet", "block_out_channels", [1e14, 64, 64]),
            ("unet", "attention_head_dim", 0), ("unet", "cross_attention_dim", 1 << 40), ("unet", "conv_in_kernel", 9999),
            ("vae", "latent_channels", 0), ("vae", "block_out_channels", [1e300, 16, 16, 16]), ("vae", "sample_size", -8),
            ("text_encoder", "hidden_size", 0), ("text_encoder", "num_attention_heads", -1),
            ("text_encoder", "max_position_embeddings", 1 << 40), ("text_encoder", "eos_token_id", 1e13),
            ("unet", "norm_eps", 0), ("unet", "norm_eps", -1), ("unet", "freq_shift", 1e300), ("vae", "scaling_factor", 0),
            ("vae", "scaling_factor", 1e300), ("vae", "shift_factor", -1e300), ("text_encoder", "layer_norm_eps", 1e300),
        ]
        for (component, key, value) in cases {
            let c = try config(component) { $0[key] = value }
            switch component {
            case "unet": assertRefused({ _ = try UNetConfig(c) }, key: key)
            case "vae": assertRefused({ _ = try VAEConfig(c) }, key: key)
            default: assertRefused({ _ = try CLIPTextConfig(c) }, key: key)
            }
        }
    }

    func testFixtureConfigsStillLoad() throws {
        XCTAssertNoThrow(try UNetConfig(try config("unet") { _ in }))
        XCTAssertNoThrow(try VAEConfig(try config("vae") { _ in }))
        XCTAssertNoThrow(try CLIPTextConfig(try config("text_encoder") { _ in }))
        XCTAssertNoThrow(try CLIPTextConfig(try config("text_encoder_2") { _ in }))
    }
}
