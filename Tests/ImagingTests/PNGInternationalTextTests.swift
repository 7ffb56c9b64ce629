import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// Text that Latin-1 cannot hold is written as iTXt (UTF-8), as PIL writes it, and read back.
final class PNGInternationalTextTests: XCTestCase {
    func testNonLatin1TextSurvivesAsITXt() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 90, count: 12))
        let text = [("parameters", "café 猫 🐱"), ("kiln", "café au lait"), ("empty", "")]
        let data = try PNGFile.encode(image, text: text)
        let bytes = [UInt8](data)
        func count(_ type: String) -> Int {
            let t = Array(type.utf8)
            return (0...(bytes.count - 4)).filter { Array(bytes[$0..<($0 + 4)]) == t }.count
        }
        XCTAssertEqual(count("iTXt"), 1, "only the value Latin-1 cannot hold")
        XCTAssertEqual(count("tEXt"), 2)
        let path = dir + "/t.png"
        try PNGFile.write(encoded: data, to: path)
        let read = try PNGFile.read(path)
        XCTAssertEqual(read.text["parameters"], "café 猫 🐱")
        XCTAssertEqual(read.text["kiln"], "café au lait")
        XCTAssertEqual(read.text["empty"], "")
        XCTAssertEqual(read.image.pixels, image.pixels)
    }
}
