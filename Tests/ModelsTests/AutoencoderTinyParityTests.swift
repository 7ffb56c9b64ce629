import KilnTestSupport
import ModelFiles
import Models
import Numerics
import XCTest

/// diffusers' AutoencoderTiny (the TAESD layout of madebyollin/taesdxl) against diffusers: the
/// encoder's latents of a 60x44 image and the decoder's images of 11x7 latents, batch 2.
final class AutoencoderTinyParityTests: XCTestCase {
    func open() throws -> (VAEFiles, ImageAutoencoder) {
        let files = try VAEFiles(path: Fixtures.model("vae-tiny-taesd"))
        XCTAssertEqual(files.className, .autoencoderTiny)
        let base = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base")).config("vae")
        return (files, try files.autoencoder(pipelineConfig: base))
    }

    func testEncoderAndDecoderMatchDiffusers() throws {
        let (_, vae) = try open()
        guard case .tiny(let tiny) = vae else { return XCTFail("not an AutoencoderTiny") }
        let e = try Expected("vae-tiny")
        let encoded = tiny.encode(try e.image("image"))
        let expected = try e.image("encoded")
        XCTAssertEqual(encoded.shape, expected.shape)
        XCTAssertLessThanOrEqual(encoded.relativeError(to: expected), 1e-5, "encoded")
        let decoded = tiny.decode(try e.image("latents"))
        let want = try e.image("decoded")
        XCTAssertEqual(decoded.shape, want.shape)
        XCTAssertLessThanOrEqual(decoded.relativeError(to: want), 1e-5, "decoded")
        XCTAssertEqual(vae.scalingFactor, 1.0)
        XCTAssertEqual(vae.downscaleFactor, 8)
        XCTAssertEqual(vae.latentChannels, 4)
    }

    func testTiledDecodingIsRefusedInOneLine() throws {
        let (_, vae) = try open()
        XCTAssertThrowsError(try vae.decode(Tensor(zeros: [1, 2, 2, 4]), tiled: true)) {
            XCTAssertTrue("\($0)".hasPrefix("vae-tiling: an AutoencoderTiny"), "\($0)")
        }
    }

    func testUnequalStageWidthsAreRefusedNamingTheKey() throws {
        let config = ConfigFile(path: "taesd/config.json", values: ["_class_name": "AutoencoderTiny",
                                                                    "encoder_block_out_channels": [8.0, 16.0, 16.0, 16.0] as [any Sendable]])
        XCTAssertThrowsError(try TinyVAEConfig(config)) {
            XCTAssertTrue("\($0)".contains("'encoder_block_out_channels' must all be equal"), "\($0)")
        }
    }
}
