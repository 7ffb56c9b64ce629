import Foundation
import Imaging
import KilnTestSupport
import XCTest

final class GrayImageTests: XCTestCase {
    /// diffusers' mask path: load_image (RGB), then convert("L").
    func testMasksConvertAsPIL() throws {
        for name in ["mask-soft-70x50.png", "mask-rgb-88x72.png"] {
            try assertSame(GrayImage(try ImageFile.read(Reference.image(name))), name + ".L")
        }
    }

    /// PIL's fixed-point luma on the extremes and a few colours computed by hand.
    func testLumaFormula() {
        let rgb = RGBImage(width: 5, height: 1, pixels: [0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255])
        // (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16
        XCTAssertEqual(GrayImage(rgb).pixels, [0, 255, 76, 150, 29])
    }
}
