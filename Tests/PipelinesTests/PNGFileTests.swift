import Foundation
import Imaging
import KilnTestSupport
import XCTest

final class PNGFileTests: XCTestCase {
    /// Gray, gray+alpha, RGBA and palette files read as PIL's `convert("RGB")` reads them.
    func testOtherColourTypesReadLikePIL() throws {
        let e = try Expected("png-rgb")
        for name in ["gray", "gray-alpha", "rgba", "palette"] {
            let (image, _) = try PNGFile.read(Fixtures.path("images/\(name).png"))
            let expected = try e.tensor(name)
            XCTAssertEqual([image.height, image.width, 3], expected.shape, name)
            XCTAssertTrue(image.pixels.map(Float.init) == expected.scalars, name)
        }
    }

    func testRoundTripWithText() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 14) })
        try PNGFile.write(image, to: dir + "/a.png", text: [("parameters", "a cat\nSteps: 2"), ("kiln", "{\"x\":1}")])
        let (back, text) = try PNGFile.read(dir + "/a.png")
        XCTAssertEqual(back, image)
        XCTAssertEqual(text["parameters"], "a cat\nSteps: 2")
        XCTAssertEqual(text["kiln"], "{\"x\":1}")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.png"], "no temporary file left")
        XCTAssertThrowsError(try PNGFile.write(image, to: dir + "/missing/a.png")) { XCTAssertTrue("\($0)".contains("missing/a.png"), "\($0)") }
        let truncated = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.png")).prefix(40)
        try truncated.write(to: URL(fileURLWithPath: dir + "/t.png"))
        XCTAssertThrowsError(try PNGFile.read(dir + "/t.png")) { XCTAssertTrue("\($0)".contains("t.png"), "\($0)") }
    }
}
