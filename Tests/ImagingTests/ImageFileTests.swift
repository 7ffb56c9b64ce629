import Foundation
import Imaging
import KilnTestSupport
import XCTest

final class ImageFileTests: XCTestCase {
    /// Every fixture image reads as diffusers' `load_image` (PIL open, exif_transpose,
    /// convert("RGB")) reads it: PNG in each colour type and bit depth (16-bit gray clipped, other
    /// 16-bit samples by their high byte, alpha dropped, gAMA ignored, palette indices past PLTE
    /// black, interlaced), JPEG gray, RGB 4:2:0 and 4:2:2, progressive, CMYK, EXIF-rotated.
    func testEveryInputReadsAsPIL() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("images"))
            .filter { $0.hasPrefix("input-") || $0.hasPrefix("mask-") || $0.hasPrefix("extra-") }.sorted()
        XCTAssertEqual(names.count, 18)
        for name in names {
            try assertSame(try ImageFile.read(Reference.image(name)), name)
        }
    }

    func testSixteenBitPNGs() throws {
        // Gray: values above 255 clip to 255 (PIL's I;16 -> RGB), the rest are kept.
        let gray = try ImageFile.read(Reference.image("input-gray16-40x30.png"))
        XCTAssertEqual(gray.pixels[0], 0)
        XCTAssertEqual(gray.pixels[3 * 10], 160)  // x = 10, y = 0: 16 * 10
        XCTAssertEqual(gray.pixels[3 * 39], 255)  // 624, clipped
        try assertSame(gray, "input-gray16-40x30.png")
        // RGB: the high byte of each sample.
        let rgb = try ImageFile.read(Reference.image("input-rgb16-33x21.png"))
        XCTAssertEqual(Array(rgb.pixels[(3 * 5)..<(3 * 5 + 3)]), [UInt8((5 * 1985) >> 8), UInt8((5 * 11) >> 8), UInt8(301 >> 8)])
        try assertSame(rgb, "input-rgb16-33x21.png")
        try assertSame(try ImageFile.read(Reference.image("extra-rgba16-11x7.png")), "extra-rgba16-11x7.png")
        try assertSame(try ImageFile.read(Reference.image("extra-graya16-11x7.png")), "extra-graya16-11x7.png")
    }

    /// Bytes in memory read the same as the file, and the format comes from the bytes alone.
    func testReadFromMemory() throws {
        for name in ["input-photo-88x72.jpg", "input-rgba-70x50.png"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: Reference.image(name)))
            XCTAssertEqual(try ImageFile.read(data: data, name: "blob 7"), try ImageFile.read(Reference.image(name)))
        }
        XCTAssertEqual(ImageFile.format(of: Data([0xFF, 0xD8, 0xFF, 0xE0])), .jpeg)
        XCTAssertNil(ImageFile.format(of: Data("GIF89a".utf8)))
    }

    /// All eight EXIF orientations, by patching the fixture JPEG's Orientation value (a
    /// big-endian SHORT) as the fixture script did; and a PNG with a little-endian eXIf chunk.
    func testExifOrientation() throws {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Reference.image("extra-exif-orientation-20x12.jpg"))))
        let entry: [UInt8] = [0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00]
        let at = try XCTUnwrap((0...(data.count - entry.count)).first { Array(data[$0..<($0 + entry.count)]) == entry }) + entry.count
        for value in 1...8 {
            var patched = data
            patched[at] = UInt8(value)
            let image = try ImageFile.read(data: Data(patched), name: "orientation \(value)")
            XCTAssertEqual([image.width, image.height], value >= 5 ? [12, 20] : [20, 12], "orientation \(value)")
            try assertSame(image, "exif-orientation-\(value)")
        }
        let png = try ImageFile.read(Reference.image("extra-exif-orientation-7x5.png"))
        XCTAssertEqual([png.width, png.height], [5, 7])
    }

    /// A 30000x30000 PNG of a few dozen bytes is refused from its header, before any decoding.
    func testDecompressionBombRefusedBeforeDecoding() throws {
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            let crc = UInt32(typed.reduce(into: UInt32(0xFFFF_FFFF)) { c, byte in
                c ^= UInt32(byte)
                for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            } ^ 0xFFFF_FFFF)
            return withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + typed + withUnsafeBytes(of: crc.bigEndian, Array.init)
        }
        let side = withUnsafeBytes(of: UInt32(30000).bigEndian, Array.init)
        // IDAT: a zlib stream of one stored empty block (far too little data, never reached).
        let bomb = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", side + side + [8, 2, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
        XCTAssertLessThan(bomb.count, 100)
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bomb.png"
        try Data(bomb).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ImageFile.read(path)) { error in
            XCTAssertEqual(error as? ImagingError, .tooLarge(path: path, width: 30000, height: 30000, limits: .default))
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(path + ": ") && text.contains("30000x30000") && !text.contains("\n"), text)
        }
        // A JPEG whose frame header (SOF0) declares 30000x30000 is refused the same way.
        var jpegBomb = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Reference.image("input-photo-88x72.jpg"))))
        let sof = try XCTUnwrap((0..<(jpegBomb.count - 1)).first { jpegBomb[$0] == 0xFF && jpegBomb[$0 + 1] == 0xC0 })
        jpegBomb.replaceSubrange((sof + 5)..<(sof + 9), with: [0x75, 0x30, 0x75, 0x30])  // height, width: 30000
        XCTAssertThrowsError(try ImageFile.read(data: Data(jpegBomb), name: "bomb.jpg")) { error in
            XCTAssertEqual(error as? ImagingError, .tooLarge(path: "bomb.jpg", width: 30000, height: 30000, limits: .default))
        }
        // Limits apply to each side as configured.
        let jpeg = Reference.image("input-photo-88x72.jpg")
        XCTAssertThrowsError(try ImageFile.read(jpeg, limits: ImageLimits(maxSide: 80, maxPixels: 1_000_000))) { error in
            XCTAssertEqual(error as? ImagingError, .tooLarge(path: jpeg, width: 88, height: 72, limits: ImageLimits(maxSide: 80, maxPixels: 1_000_000)))
        }
        XCTAssertNoThrow(try ImageFile.read(jpeg, limits: ImageLimits(maxSide: 88, maxPixels: 88 * 72)))
    }

    /// Anything but PNG and JPEG, truncated files and missing files each fail in one line that
    /// names the file.
    func testRefusalsNameTheFileInOneLine() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = dir + "/notes.png"
        try "a cat on a mat\n".write(toFile: text, atomically: true, encoding: .utf8)
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Reference.image("input-photo-88x72.jpg")))
        let truncated = dir + "/cut.jpg"
        try jpeg.prefix(jpeg.count / 2).write(to: URL(fileURLWithPath: truncated))
        let png = try Data(contentsOf: URL(fileURLWithPath: Reference.image("input-rgba-70x50.png")))
        let truncatedPNG = dir + "/cut.png"
        try png.prefix(png.count - 200).write(to: URL(fileURLWithPath: truncatedPNG))
        let headerOnly = dir + "/header.jpg"
        try jpeg.prefix(4).write(to: URL(fileURLWithPath: headerOnly))
        let cases: [(String, String)] = [
            (text, "only PNG and JPEG"), (truncated, "JPEG"), (truncatedPNG, "PNG"), (headerOnly, "JPEG"),
            (dir + "/missing.jpg", "no such file"), (dir, "folder"),
        ]
        for (path, words) in cases {
            XCTAssertThrowsError(try ImageFile.read(path), path) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(path + ": "), message)
                XCTAssertTrue(message.contains(words), message)
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
        // Even a JPEG missing only its final EOI marker is refused, as PIL refuses it ("image file
        // is truncated"): the entropy decoder reads ahead past the last scanline's data.
        XCTAssertThrowsError(try ImageFile.read(data: jpeg.prefix(jpeg.count - 2), name: "no-eoi.jpg")) {
            XCTAssertTrue("\($0)".hasPrefix("no-eoi.jpg: corrupt or truncated JPEG"), "\($0)")
        }
    }

    /// The older front door still reads 8-bit files, now through the same decoder rules.
    func testPNGFileReadStillWorks() throws {
        let (image, _) = try PNGFile.read(Reference.image("input-rgba-70x50.png"))
        try assertSame(image, "input-rgba-70x50.png")
    }
}
