import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// PIL's readings and resizes saved by `generate_fixtures.py --only image_fixtures`.
enum Reference {
    static let file: Expected? = try? Expected("image-inputs")

    /// The uint8 tensor `key` as bytes, with its shape.
    static func bytes(_ key: String) throws -> (shape: [Int], bytes: [UInt8]) {
        guard let file else { throw XCTSkip("Tests/Fixtures/expected/image-inputs.safetensors is missing; run generate_fixtures.py --only image_fixtures") }
        let t = try file.tensor(key)
        return (t.shape, t.scalars.map { UInt8($0) })
    }

    static func image(_ name: String) -> String { Fixtures.path("images/\(name)") }
}

/// Exact equality, reporting how many values differ and by how much at most.
func assertSame(_ actual: [UInt8], _ shape: [Int], _ key: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let (expectedShape, expected) = try Reference.bytes(key)
    XCTAssertEqual(shape, expectedShape, "\(key): shape", file: file, line: line)
    guard shape == expectedShape else { return }
    let differing = zip(actual, expected).filter { $0 != $1 }
    let worst = differing.map { abs(Int($0) - Int($1)) }.max() ?? 0
    XCTAssertTrue(differing.isEmpty, "\(key): \(differing.count) of \(expected.count) values differ, by at most \(worst)", file: file, line: line)
}

func assertSame(_ image: RGBImage, _ key: String, file: StaticString = #filePath, line: UInt = #line) throws {
    try assertSame(image.pixels, [image.height, image.width, 3], key, file: file, line: line)
}

func assertSame(_ image: GrayImage, _ key: String, file: StaticString = #filePath, line: UInt = #line) throws {
    try assertSame(image.pixels, [image.height, image.width], key, file: file, line: line)
}
