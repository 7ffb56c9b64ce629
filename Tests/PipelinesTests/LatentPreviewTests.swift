import Numerics
import Pipelines
import XCTest

/// The linear latent-to-RGB preview, checked against values numpy computes (float32) from ComfyUI's
/// SDXL factors: `((bias + latents · factors + 1) / 2).clamp(0, 1) * 255`, truncated.
final class LatentPreviewTests: XCTestCase {
    func testFactorsBiasClampAndLayout() throws {
        // Two images of 1x2 latent pixels, channels last.
        var values = [Float](repeating: 0, count: 2 * 1 * 2 * 4)
        values[4] = 1  // image 0, pixel 1, channel 0
        for k in 0..<4 { values[8 + k] = 100 }  // image 1, pixel 0: far out, clamped
        values[12 + 3] = -1  // image 1, pixel 1, channel 3
        let preview = try XCTUnwrap(LatentPreview.image(Tensor(shape: [2, 1, 2, 4], scalars: values)))
        XCTAssertEqual([preview.width, preview.height], [4, 1])
        XCTAssertEqual(Array(preview.pixels[0..<3]), [141, 125, 127])   // zeros: the bias alone
        XCTAssertEqual(Array(preview.pixels[3..<6]), [187, 179, 182])   // channel 0 = 1
        XCTAssertEqual(Array(preview.pixels[6..<9]), [0, 255, 255])     // 100 in every channel: clamped both ways
        XCTAssertEqual(Array(preview.pixels[9..<12]), [181, 157, 155])  // channel 3 = -1
        XCTAssertNil(LatentPreview.image(Tensor(shape: [1, 2, 2, 16], scalars: [Float](repeating: 0, count: 64))))
    }
}
