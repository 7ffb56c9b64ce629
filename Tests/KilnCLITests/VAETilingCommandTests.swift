import Imaging
import KilnTestSupport
import XCTest

/// `--vae-tiling` against diffusers with `pipe.vae.enable_tiling()`: a 272x168 text-to-image
/// render decodes in 2 x 3 tiles of the tiny VAE, and a 264x200 input image also encodes in
/// tiles (image-to-image).
final class VAETilingCommandTests: XCTestCase {
    let model = Fixtures.model("tiny-sdxl-base")
    let prompt = "a harbour at dusk, many boats"

    func render(_ arguments: [String], expected key: String, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try KilnProcess.run(["render", "--model", model, "--prompt", prompt, "--guidance", "5", "--no-watermark",
                                     "--output", dir + "/out.png"] + arguments)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        let image = try ImageFile.read(dir + "/out.png")
        let comparison = PixelComparison([(image.width, image.height, image.pixels)], try Expected("render-vae-tiling").tensor(key))
        XCTAssertTrue(comparison.sizesMatch, "\(key): \(comparison)", file: file, line: line)
        XCTAssertLessThanOrEqual(comparison.worst, 1, "\(key): \(comparison)", file: file, line: line)
        return image.pixels
    }

    func testTextToImageDecodesInTilesAsDiffusers() throws {
        let tiled = try render(["--width", "272", "--height", "168", "--steps", "3", "--seed", "33", "--vae-tiling"], expected: "text2img")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let whole = try KilnProcess.run(["render", "--model", model, "--prompt", prompt, "--guidance", "5", "--no-watermark", "--width", "272",
                                         "--height", "168", "--steps", "3", "--seed", "33", "--output", dir + "/whole.png"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertNotEqual(try ImageFile.read(dir + "/whole.png").pixels, tiled, "without --vae-tiling the VAE decodes whole")
    }

    func testImageToImageEncodesAndDecodesInTilesAsDiffusers() throws {
        _ = try render(["--image", Fixtures.root + "/images/tiling-scene-264x200.png", "--strength", "0.6", "--steps", "5", "--seed", "34",
                        "--vae-tiling"], expected: "img2img")
    }
}
