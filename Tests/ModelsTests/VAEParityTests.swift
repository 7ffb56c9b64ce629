import KilnTestSupport
import ModelFiles
import Models
import Numerics
import XCTest

/// AutoencoderKL encoder distribution and decoder image against diffusers.
final class VAEParityTests: XCTestCase {
    func testEncoderAndDecoder() throws {
        let vae = try SDXLModelFiles(path: Fixtures.model("tiny-sdxl-base")).vae()
        let e = try Expected("base-vae")
        let dist = vae.encode(try e.image("image"))
        XCTAssertLessThanOrEqual(dist.mean.relativeError(to: try e.image("mean")), 1e-4, "mean")
        XCTAssertLessThanOrEqual(dist.logVariance.relativeError(to: try e.image("logvar")), 1e-4, "logvar")
        let decoded = vae.decode(try e.image("latents"))
        XCTAssertLessThanOrEqual(decoded.relativeError(to: try e.image("decoded")), 1e-4, "decoded")
        XCTAssertEqual(vae.config.scalingFactor, 0.13025)
    }
}
