import KilnTestSupport
import ModelFiles
import Models
import Numerics
import XCTest

/// Tiled encoding and decoding against diffusers' `vae.enable_tiling()`: the tiny VAE's 16-latent
/// tiles cut 21x34 latents into 2 x 3 tiles and a 200x264 image into 3 x 3.
final class VAETilingTests: XCTestCase {
    func testTiledDecodeAndEncodeMatchDiffusers() throws {
        let vae = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base")).vae()
        XCTAssertEqual(vae.tileLatentSize, 16)
        let e = try Expected("vae-tiled")
        let latents = try e.image("latents")
        let decoded = try vae.decode(latents, tiled: true)
        XCTAssertEqual(decoded.shape, [2, 168, 272, 3])
        XCTAssertLessThanOrEqual(decoded.relativeError(to: try e.image("decoded")), 1e-4, "decoded")
        XCTAssertGreaterThan(vae.decode(latents).relativeError(to: decoded), 1e-3, "tiling changes the numbers (seams)")
        let dist = try vae.encode(try e.image("image"), tiled: true)
        XCTAssertLessThanOrEqual(dist.mean.relativeError(to: try e.image("mean")), 1e-4, "mean")
        XCTAssertLessThanOrEqual(dist.logVariance.relativeError(to: try e.image("logvar")), 1e-4, "logvar")
    }

    func testSmallInputsAreCodedWhole() throws {
        let vae = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base")).vae()
        let e = try Expected("base-vae")
        let latents = try e.image("latents")
        XCTAssertTrue(try vae.decode(latents, tiled: true).scalars == vae.decode(latents).scalars)
    }
}
