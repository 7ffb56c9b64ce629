import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// The image steps of inpainting with `padding_mask_crop`, against diffusers 0.42.1 and Pillow
/// (`generate_fixtures.py --only padding_crop_fixtures`), bit for bit.
final class PaddingCropTests: XCTestCase {
    struct Cases: Decodable {
        struct Region: Decodable {
            let mask: String, width: Int, height: Int, pad: Int, region: [Int]?, error: String?
        }
        struct Preprocess: Decodable {
            let key: String, image: String, mask: String, width: Int, height: Int, pad: Int, region: [Int]
        }
        struct Resize: Decodable {
            let key: String, image: String, box: [Int]?, mode: String, width: Int, height: Int
        }
        struct Crop: Decodable {
            let key: String, image: String, box: [Int], gray: Bool
        }
        struct BoxResize: Decodable {
            let key: String, image: String, box: [Int], width: Int, height: Int, filter: String
        }
        struct Overlay: Decodable {
            let key: String, image: String, mask: String, width: Int, height: Int, pad: Int?, region: [Int]?
        }
        let regions: [Region], preprocess: [Preprocess], resize: [Resize], crop: [Crop], overlay: [Overlay]
        let boxResize: [BoxResize]

        enum CodingKeys: String, CodingKey {
            case regions, preprocess, resize, crop, overlay, boxResize = "box_resize"
        }
    }

    static let cases: Cases? = {
        guard let data = FileManager.default.contents(atPath: Fixtures.expected("padding-crop.json")) else { return nil }
        return try? JSONDecoder().decode(Cases.self, from: data)
    }()

    func cases() throws -> Cases {
        guard let cases = Self.cases else {
            throw MissingFixture(description: "Tests/Fixtures/expected/padding-crop.json is missing or unreadable; run generate_fixtures.py --only padding_crop_fixtures")
        }
        return cases
    }

    func load(_ name: String) throws -> RGBImage { try ImageFile.read(Reference.image(name)) }

    func region(_ v: [Int]) -> CropRegion { CropRegion(x1: v[0], y1: v[1], x2: v[2], y2: v[3]) }

    /// The stand-in for a generated image, as the fixture script draws it.
    static func gradient(width w: Int, height h: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let i = (y * w + x) * 3
                pixels[i] = UInt8(x * 255 / max(w - 1, 1))
                pixels[i + 1] = UInt8(y * 255 / max(h - 1, 1))
                pixels[i + 2] = UInt8((x * 3 + y * 5) % 256)
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    /// `get_crop_region` for seven masks (the two inputs, an edge-touching one, a tall stripe, a
    /// wide stripe whose region runs past the border, a single dot, one black only to luma) at
    /// eleven processing sizes and pads, including 64x64 pad 8, 1024x1024 pad 32, 48x80 pad 0
    /// and a negative pad; and where diffusers fails (black masks, a region of no area), a
    /// one-line error carrying the region diffusers returned.
    func testCropRegionsEqualDiffusers() throws {
        let cases = try cases().regions
        XCTAssertEqual(cases.count, 88)
        var failures = 0
        for c in cases {
            let mask = try load(c.mask)
            let label = "\(c.mask) \(c.width)x\(c.height) pad \(c.pad)"
            guard let error = c.error else {
                let found = try CropRegion(mask: mask, width: c.width, height: c.height, pad: c.pad)
                XCTAssertEqual(found, c.region.map(region), label)
                // diffusers' preprocess went on with this region; crop and fill do too.
                if c.width * c.height <= 100_000 {
                    XCTAssertNoThrow(try mask.cropped(to: found).resized(width: c.width, height: c.height, mode: .fill), label)
                }
                continue
            }
            failures += 1
            XCTAssertThrowsError(try CropRegion(mask: mask, width: c.width, height: c.height, pad: c.pad), label) { thrown in
                XCTAssertFalse("\(thrown)".contains("\n"), "\(thrown)")
                let expected = error.hasPrefix("get_crop_region") ? nil : c.region.map(region)
                switch thrown as? ImageGeometryError {
                case let .blackMask(width, height, pad, found)?:
                    XCTAssertTrue(c.mask.contains("black"), label)
                    XCTAssertEqual([width, height, pad], [c.width, c.height, c.pad], label)
                    XCTAssertEqual(found, expected, label)
                case let .emptyRegion(found)?:
                    XCTAssertFalse(c.mask.contains("black"), label)
                    XCTAssertEqual(found, expected, label)
                default:
                    XCTFail("\(label): \(thrown)")
                }
            }
        }
        XCTAssertEqual(failures, 15)
    }

    /// What the pipeline's `image_processor.preprocess` and `mask_processor.preprocess` make of
    /// the image and mask before normalisation (crop to the region, resize "fill", and for the
    /// mask `convert("L")`).
    func testPreprocessCropAndFillEqualDiffusers() throws {
        let cases = try cases().preprocess
        XCTAssertEqual(cases.count, 7)
        for c in cases {
            let image = try load(c.image), mask = try load(c.mask)
            let found = try CropRegion(mask: mask, width: c.width, height: c.height, pad: c.pad)
            XCTAssertEqual(found, region(c.region), c.key)
            let filled = try image.cropped(to: found).resized(width: c.width, height: c.height, mode: .fill)
            try assertSame(filled, "fill.\(c.key).image", in: "padding-crop")
            let maskFilled = GrayImage(try mask.cropped(to: found).resized(width: c.width, height: c.height, mode: .fill))
            try assertSame(maskFilled, "fill.\(c.key).mask", in: "padding-crop")
        }
    }

    /// `_resize_and_fill` and `_resize_and_crop` alone, including sizes where the floor
    /// divisions leave a black column or row, and strips of width 0 (none pasted).
    func testResizeModesEqualDiffusers() throws {
        let cases = try cases().resize
        XCTAssertEqual(cases.count, 7)
        for c in cases {
            var image = try load(c.image)
            if let box = c.box { image = try image.cropped(to: region(box)) }
            let mode = try XCTUnwrap(ResizeMode(rawValue: c.mode))
            try assertSame(try image.resized(width: c.width, height: c.height, mode: mode), "resize.\(c.key)", in: "padding-crop")
        }
    }

    /// PIL's `crop` with boxes partly outside the image: zeros there, RGB and L.
    func testCropEqualsPIL() throws {
        let cases = try cases().crop
        XCTAssertEqual(cases.count, 3)
        for c in cases {
            let image = try load(c.image)
            if c.gray {
                try assertSame(try GrayImage(image).cropped(to: region(c.box)), "crop.\(c.key)", in: "padding-crop")
            } else {
                try assertSame(try image.cropped(to: region(c.box)), "crop.\(c.key)", in: "padding-crop")
            }
        }
    }

    /// PIL's `resize(size, resample, box=)`: boxes of no height or width (the fill strips, with
    /// PIL's default BICUBIC and with LANCZOS), boxes inside the image with one or both passes
    /// (vertical first where Pillow chooses it) for each filter, a whole-image BICUBIC resize, and
    /// a box of the output's size (a crop).
    func testBoxResizeEqualsPIL() throws {
        let cases = try cases().boxResize
        XCTAssertEqual(cases.count, 11)
        for c in cases {
            let image = try load(c.image), filter = try XCTUnwrap(ResampleFilter(rawValue: c.filter))
            let box = region(c.box)
            try assertSame(try image.resized(width: c.width, height: c.height, box: box, filter: filter), "box.\(c.key)", in: "padding-crop")
            if box == CropRegion(x1: 0, y1: 0, x2: image.width, y2: image.height) {
                try assertSame(image.resized(width: c.width, height: c.height, filter: filter), "box.\(c.key)", in: "padding-crop")
            }
        }
    }

    /// `apply_overlay` of a gradient as the generated image onto each original: with the region
    /// the pipeline found (the gradient has the processing size and is fitted with "crop"), and
    /// without a region (a gradient of the original's size, and one of another size).
    func testApplyOverlayEqualsDiffusers() throws {
        let cases = try cases().overlay
        XCTAssertEqual(cases.count, 6)
        for c in cases {
            let original = try load(c.image), mask = try load(c.mask)
            let crop = c.region.map(region)
            if let crop, let pad = c.pad {
                XCTAssertEqual(try CropRegion(mask: mask, width: c.width, height: c.height, pad: pad), crop, c.key)
            }
            let out = try applyOverlay(mask: mask, original: original, image: Self.gradient(width: c.width, height: c.height), crop: crop)
            try assertSame(out, "overlay.\(c.key)", in: "padding-crop")
        }
    }
}
