import Foundation
import Imaging
import KilnTestSupport
import XCTest

final class ResizeTests: XCTestCase {
    /// PIL's LANCZOS resize, bit for bit: downscale, upscale, non-uniform, the same size (a copy),
    /// and sizes where Pillow runs the vertical pass first (height shrinking most).
    func testLanczosEqualsPIL() throws {
        let cases: [(String, [(Int, Int)])] = [
            ("input-rgba-70x50.png", [(64, 48), (40, 104), (131, 77), (100, 20), (70, 12)]),
            ("input-photo-88x72.jpg", [(88, 72), (64, 64), (200, 30)]),
        ]
        for (name, sizes) in cases {
            let image = try ImageFile.read(Reference.image(name))
            for (w, h) in sizes {
                try assertSame(image.resized(width: w, height: h), "\(name).lanczos-\(w)x\(h)")
            }
        }
    }

    func testMaskResizesEqualPIL() throws {
        let mask = GrayImage(try ImageFile.read(Reference.image("mask-soft-70x50.png")))
        for (w, h) in [(64, 48), (90, 10), (7, 61)] {
            try assertSame(mask.resized(width: w, height: h), "mask-soft-70x50.png.L.lanczos-\(w)x\(h)")
        }
        for (w, h) in [(8, 6), (97, 61), (3, 50)] {
            try assertSame(mask.resized(width: w, height: h, filter: .nearest), "mask-soft-70x50.png.L.nearest-\(w)x\(h)")
        }
        let rgb = try ImageFile.read(Reference.image("input-rgba-70x50.png"))
        try assertSame(rgb.resized(width: 33, height: 71, filter: .nearest), "input-rgba-70x50.png.nearest-33x71")
    }

    /// Gray and RGB resizes agree channel by channel (the passes treat channels independently).
    func testGrayAndRGBAgree() throws {
        let mask = GrayImage(try ImageFile.read(Reference.image("mask-soft-70x50.png")))
        for filter in ResampleFilter.allCases {
            for (w, h) in [(31, 17), (140, 9), (5, 120)] {
                XCTAssertEqual(mask.rgb.resized(width: w, height: h, filter: filter), mask.resized(width: w, height: h, filter: filter).rgb)
            }
        }
    }

    /// A 1x1 image and extreme ratios stay in range and keep a flat image flat.
    func testEdgeSizes() {
        let dot = RGBImage(width: 1, height: 1, pixels: [10, 200, 255])
        XCTAssertEqual(dot.resized(width: 5, height: 3).pixels, Array([[UInt8]](repeating: [10, 200, 255], count: 15).joined()))
        let flat = GrayImage(width: 300, height: 2, pixels: [UInt8](repeating: 77, count: 600))
        XCTAssertEqual(flat.resized(width: 1, height: 1).pixels, [77])
        XCTAssertEqual(flat.resized(width: 2, height: 700).pixels, [UInt8](repeating: 77, count: 1400))
    }
}
