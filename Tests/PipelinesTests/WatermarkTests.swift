import Foundation
import Imaging
import KilnTestSupport
import Numerics
import Pipelines
import XCTest

final class WatermarkTests: XCTestCase {
    /// diffusers' StableDiffusionXLWatermarker on a fixed image, within one level of 255.
    func testApplyMatchesDiffusers() throws {
        let e = try Expected("watermark")
        let marked = InvisibleWatermark.sdxl.apply(toDecoded: try e.image("image"))
        let ours = RGBImage(decoded: marked)
        let expected = try e.tensor("marked_pixels").nchwToNHWC()
        var worst: Float = 0
        for (i, p) in ours.pixels.enumerated() { worst = max(worst, abs(Float(p) - expected[flat: i])) }
        XCTAssertLessThanOrEqual(worst, 1)
        XCTAssertEqual(InvisibleWatermark.value(try XCTUnwrap(InvisibleWatermark.sdxl.decode(ours))), 0xB3EC_907B_B19E)
    }

    func testUnmarkedImageDoesNotCarryTheMessage() throws {
        let e = try Expected("watermark")
        let plain = RGBImage(decoded: try e.image("image"))
        let bits = try XCTUnwrap(InvisibleWatermark.sdxl.decode(plain))
        XCTAssertNotEqual(InvisibleWatermark.value(bits), 0xB3EC_907B_B19E)
    }

    func testNarrowImagesAreLeftAlone() throws {
        let t = Tensor(repeating: 0.25, shape: [1, 64, 128, 3])
        XCTAssertTrue(InvisibleWatermark.sdxl.apply(toDecoded: t).scalars == t.scalars)
    }
}
