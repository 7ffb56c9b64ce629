import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// Edge cases of cropping, the resize modes and the overlay, and their one-line refusals (where
/// diffusers or PIL raise).
final class ImageGeometryTests: XCTestCase {
    func black(_ w: Int, _ h: Int) -> RGBImage { RGBImage(width: w, height: h, pixels: [UInt8](repeating: 0, count: w * h * 3)) }

    func assertOneLine(_ error: Error, contains words: String, file: StaticString = #filePath, line: UInt = #line) {
        let text = "\(error)"
        XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
        XCTAssertTrue(text.contains(words), text, file: file, line: line)
    }

    /// A black mask: diffusers' region for it (with a small pad) is upside down or divides by
    /// zero; both are refused in one line. With a pad of half the mask's size or more diffusers
    /// does find a region, and so does this.
    func testBlackMask() throws {
        let mask = black(64, 48)
        XCTAssertThrowsError(try CropRegion(mask: mask, width: 64, height: 64, pad: 8)) { error in
            XCTAssertEqual(error as? ImageGeometryError, .blackMask(width: 64, height: 64, pad: 8, region: CropRegion(x1: 56, y1: 48, x2: 8, y2: 0)))
            assertOneLine(error, contains: "mask is black everywhere")
        }
        XCTAssertThrowsError(try CropRegion(mask: mask, width: 64, height: 64, pad: 24)) { error in
            XCTAssertEqual(error as? ImageGeometryError, .blackMask(width: 64, height: 64, pad: 24, region: nil))
            assertOneLine(error, contains: "division by zero")
        }
        XCTAssertEqual(try CropRegion(mask: mask, width: 64, height: 64, pad: 32), CropRegion(x1: 24, y1: 16, x2: 40, y2: 32))
        XCTAssertThrowsError(try CropRegion(mask: mask, width: 0, height: 64, pad: 8)) {
            XCTAssertEqual($0 as? ImageGeometryError, .invalidSize(width: 0, height: 64))
        }
        // Pads far beyond any image saturate instead of overflowing.
        XCTAssertEqual(try CropRegion(mask: mask, width: 64, height: 64, pad: .max), CropRegion(x1: 0, y1: 0, x2: 64, y2: 48))
        XCTAssertThrowsError(try CropRegion(mask: mask, width: 64, height: 64, pad: .min))
    }

    /// One white pixel: the region around it grows to the processing aspect ratio and is shifted
    /// back inside the mask at the corner.
    func testDotInCorner() throws {
        var mask = black(20, 10)
        mask.pixels[(9 * 20 + 19) * 3] = 255  // bottom-right, red: luma 76
        XCTAssertEqual(try CropRegion(mask: mask, width: 64, height: 64, pad: 2), CropRegion(x1: 17, y1: 7, x2: 20, y2: 10))
        XCTAssertEqual(try CropRegion(mask: mask, width: 128, height: 64, pad: 2), CropRegion(x1: 14, y1: 7, x2: 20, y2: 10))
    }

    /// PIL's crop: boxes outside are black, empty boxes give empty images, upside-down and huge
    /// boxes are refused.
    func testCrop() throws {
        let image = RGBImage(width: 3, height: 2, pixels: Array(1...18))
        XCTAssertEqual(try image.cropped(to: CropRegion(x1: 1, y1: 1, x2: 4, y2: 3)).pixels, [13, 14, 15, 16, 17, 18, 0, 0, 0] + [UInt8](repeating: 0, count: 9))
        XCTAssertEqual(try image.cropped(to: CropRegion(x1: -5, y1: -5, x2: -1, y2: -1)).pixels, [UInt8](repeating: 0, count: 48))
        let empty = try image.cropped(to: CropRegion(x1: 2, y1: 0, x2: 2, y2: 2))
        XCTAssertEqual([empty.width, empty.height, empty.pixels.count], [0, 2, 0])
        XCTAssertEqual(try GrayImage(image).cropped(to: CropRegion(x1: 0, y1: 1, x2: 2, y2: 2)).pixels, GrayImage(image).pixels[3..<5].map { $0 })
        for box in [CropRegion(x1: 2, y1: 0, x2: 1, y2: 2), CropRegion(x1: 0, y1: 2, x2: 2, y2: 1),
                    CropRegion(x1: .min, y1: 0, x2: .max, y2: 1), CropRegion(x1: 0, y1: 0, x2: 100_000, y2: 100_000)] {
            XCTAssertThrowsError(try image.cropped(to: box)) { error in
                XCTAssertEqual(error as? ImageGeometryError, .invalidCrop(box))
                assertOneLine(error, contains: "crop box")
            }
        }
    }

    /// The resize modes: an image of the target's shape is only resized (no bands), the target
    /// size itself returns the image, unusable sizes are refused.
    func testResizeModes() throws {
        let image = try ImageFile.read(Reference.image("input-photo-88x72.jpg"))
        for mode in ResizeMode.allCases {
            XCTAssertEqual(try image.resized(width: 88, height: 72, mode: mode), image)
            XCTAssertEqual(try image.resized(width: 44, height: 36, mode: mode), image.resized(width: 44, height: 36))
            XCTAssertThrowsError(try image.resized(width: 0, height: 36, mode: mode)) {
                XCTAssertEqual($0 as? ImageGeometryError, .invalidSize(width: 0, height: 36))
            }
        }
        // A line 300 pixels wide fitted into 8x64 keeps a height of 1 * 8 / 300 = 0 pixels (PIL
        // refuses to resize to it); covering 64x8 with a 1x300 column would need 64x19200.
        XCTAssertThrowsError(try black(300, 1).resized(width: 8, height: 64, mode: .fill)) { error in
            XCTAssertEqual(error as? ImageGeometryError,
                           .unfittable(width: 300, height: 1, toWidth: 8, toHeight: 64, intermediateWidth: 8, intermediateHeight: 0))
            assertOneLine(error, contains: "keeping its aspect ratio")
        }
        XCTAssertThrowsError(try black(1, 300).resized(width: 64, height: 8, mode: .crop)) {
            XCTAssertEqual($0 as? ImageGeometryError,
                           .unfittable(width: 1, height: 300, toWidth: 64, toHeight: 8, intermediateWidth: 64, intermediateHeight: 19200))
        }
        XCTAssertThrowsError(try black(0, 0).resized(width: 8, height: 8, mode: .default))
    }

    /// PIL's resize box must lie within the image.
    func testBoxResizeRefusals() throws {
        let image = black(10, 8)
        for box in [CropRegion(x1: -1, y1: 0, x2: 5, y2: 5), CropRegion(x1: 0, y1: 0, x2: 11, y2: 5), CropRegion(x1: 5, y1: 0, x2: 4, y2: 5)] {
            XCTAssertThrowsError(try image.resized(width: 3, height: 3, box: box, filter: .lanczos)) { error in
                XCTAssertEqual(error as? ImageGeometryError, .invalidResizeBox(box, width: 10, height: 8))
                assertOneLine(error, contains: "resize box")
            }
        }
        XCTAssertThrowsError(try image.resized(width: 3, height: 0, box: CropRegion(x1: 0, y1: 0, x2: 10, y2: 8), filter: .bicubic))
        // A strip from a box of no height is every row the same.
        let photo = try ImageFile.read(Reference.image("input-photo-88x72.jpg"))
        for filter in ResampleFilter.allCases {
            let strip = try photo.resized(width: 88, height: 4, box: CropRegion(x1: 0, y1: 72, x2: 88, y2: 72), filter: filter)
            XCTAssertEqual(Set((0..<4).map { Array(strip.pixels[($0 * 88 * 3)..<(($0 + 1) * 88 * 3)]) }).count, 1, "\(filter)")
        }
    }

    /// The overlay: a black mask gives back the original (every value, exactly), a white one the
    /// generated image; a mask of another size than the original and an empty region are refused.
    func testOverlayExtremes() throws {
        var original = black(256, 3)
        for x in 0..<256 { for y in 0..<3 { for c in 0..<3 { original.pixels[(y * 256 + x) * 3 + c] = UInt8((x + 85 * c) % 256) } } }
        let generated = RGBImage(width: 256, height: 3, pixels: original.pixels.reversed())
        XCTAssertEqual(try applyOverlay(mask: black(256, 3), original: original, image: generated, crop: nil), original)
        let white = RGBImage(width: 256, height: 3, pixels: [UInt8](repeating: 255, count: 256 * 9))
        XCTAssertEqual(try applyOverlay(mask: white, original: original, image: generated, crop: nil), generated)
        // With the whole image as the region the generated image is fitted to it ("crop").
        let region = CropRegion(x1: 0, y1: 0, x2: 256, y2: 3)
        XCTAssertEqual(try applyOverlay(mask: white, original: original, image: generated, crop: region), generated)
        XCTAssertThrowsError(try applyOverlay(mask: black(255, 3), original: original, image: generated, crop: nil)) { error in
            XCTAssertEqual(error as? ImageGeometryError, .sizeMismatch(maskWidth: 255, maskHeight: 3, imageWidth: 256, imageHeight: 3))
            assertOneLine(error, contains: "give a mask of the image's size")
        }
        let empty = CropRegion(x1: 4, y1: 1, x2: 4, y2: 2)
        XCTAssertThrowsError(try applyOverlay(mask: white, original: original, image: generated, crop: empty)) {
            XCTAssertEqual($0 as? ImageGeometryError, .emptyRegion(empty))
        }
    }
}
