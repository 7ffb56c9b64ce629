import Foundation
import Imaging
import KilnTestSupport
import ModelFiles
import Models
import Numerics
import Pipelines
import XCTest

/// `--preview-vae`'s previews: diffusers' AutoencoderTiny decode, postprocessed to bytes, capped at
/// 256 px a side with PIL's LANCZOS, a batch side by side; anything but an AutoencoderTiny folder
/// refused in one line.
final class TinyVAEPreviewTests: XCTestCase {
    let folder = Fixtures.model("vae-tiny-taesd")

    func tiny(_ path: String) throws -> AutoencoderTiny {
        let files = try VAEFiles(path: path)
        guard case .tiny(let vae) = try files.autoencoder(pipelineConfig: try XCTUnwrap(files.config)) else {
            throw XCTSkip("not an AutoencoderTiny")
        }
        return vae
    }

    /// Deterministic latents in about [-2, 2].
    func latents(_ shape: [Int]) -> Tensor {
        var state: UInt64 = 12345
        let values = (0..<shape.reduce(1, *)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(state >> 40) % 4001 - 2000) / 1000
        }
        return Tensor(shape: shape, scalars: values)
    }

    func testPreviewIsDiffusersDecodeSideBySide() throws {
        let e = try Expected("vae-tiny")
        let preview = try XCTUnwrap(TinyVAEPreview(path: folder).image(try e.image("latents")))
        let decoded = try e.image("decoded")  // diffusers' `tiny.decode(latents).sample`, batch 2
        let left = RGBImage(decoded: decoded.slice(batch: 0)), right = RGBImage(decoded: decoded.slice(batch: 1))
        XCTAssertEqual([preview.width, preview.height], [left.width * 2, left.height])
        var worst = 0
        for y in 0..<left.height {
            for x in 0..<preview.width {
                let side = x < left.width ? left : right, sx = x % left.width
                for c in 0..<3 {
                    let got = Int(preview.pixels[(y * preview.width + x) * 3 + c])
                    worst = max(worst, abs(got - Int(side.pixels[(y * side.width + sx) * 3 + c])))
                }
            }
        }
        XCTAssertLessThanOrEqual(worst, 1, "within 1/255 of diffusers' postprocessed decode")
    }

    func testLargeImagesAreResizedToAtMost256PixelsALongSide() throws {
        let vae = try tiny(folder)
        let l = latents([2, 40, 24, 4])  // 320 x 192 pixels each
        let preview = try XCTUnwrap(TinyVAEPreview(path: folder).image(l))
        XCTAssertEqual([preview.width, preview.height], [2 * 154, 256])  // 192 * 256 / 320 = 153.6
        let first = RGBImage(decoded: vae.decode(l.slice(batch: 0))).resized(width: 154, height: 256, filter: .lanczos)
        let second = RGBImage(decoded: vae.decode(l.slice(batch: 1))).resized(width: 154, height: 256, filter: .lanczos)
        XCTAssertNotEqual(first, second)
        for y in 0..<256 {
            let row = preview.pixels[(y * 308 * 3)..<((y + 1) * 308 * 3)]
            XCTAssertEqual(Array(row), Array(first.pixels[(y * 154 * 3)..<((y + 1) * 154 * 3)] + second.pixels[(y * 154 * 3)..<((y + 1) * 154 * 3)]), "row \(y)")
        }
        let png = try PNGFile.encode(preview)
        XCTAssertLessThan(png.count, 308 * 256 * 3 + 4096, "a preview PNG stays small")
        XCTAssertNil(try TinyVAEPreview(path: folder).image(Tensor(zeros: [1, 4, 4, 16])), "not SDXL's 4 latent channels")
    }

    func testLatentsAreDividedByTheScalingFactor() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/config.json"))) as? [String: Any])
        config["scaling_factor"] = 2.0
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try FileManager.default.copyItem(atPath: folder + "/diffusion_pytorch_model.safetensors", toPath: dir + "/diffusion_pytorch_model.safetensors")
        let vae = try tiny(folder)
        let l = latents([1, 6, 5, 4])
        let preview = try XCTUnwrap(TinyVAEPreview(path: dir).image(l))
        XCTAssertEqual(preview, RGBImage(decoded: vae.decode(Tensor(shape: l.shape, scalars: l.scalars.map { $0 / 2 }))))
        XCTAssertNotEqual(preview, RGBImage(decoded: vae.decode(l)))
    }

    func testAnythingButAnAutoencoderTinyFolderIsRefusedInOneLine() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pickle = dir + "/taesdxl_decoder.pth"
        try Data([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]).write(to: URL(fileURLWithPath: pickle))
        let cases = [(dir + "/missing", "does not exist"), (Fixtures.model("vae-kl-tiny"), "is an AutoencoderKL"),
                     (pickle, "pickled"), (Fixtures.model("vae-kl-tiny-original.safetensors"), "is a file")]
        for (path, words) in cases {
            XCTAssertThrowsError(try TinyVAEPreview(path: path), path) { error in
                let line = "\(error)"
                XCTAssertTrue(line.hasPrefix("preview-vae: "), line)
                XCTAssertTrue(line.contains(words), line)
                XCTAssertTrue(line.contains("AutoencoderTiny folder"), line)
                XCTAssertFalse(line.contains("\n"), line)
            }
        }
    }
}
