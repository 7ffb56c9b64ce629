import Foundation
import Imaging
import KilnTestSupport
import XCTest

/// PIL's outputs saved by `generate_fixtures.py`: `image-inputs` (`--only image_fixtures`, the
/// default here) and `padding-crop` (`--only padding_crop_fixtures`).
enum Reference {
    static let file: Expected? = try? Expected("image-inputs")
    static let paddingCrop: Expected? = try? Expected("padding-crop")

    /// The uint8 tensor `key` of the fixture file `name` as bytes, with its shape.
    static func bytes(_ key: String, in name: String = "image-inputs") throws -> (shape: [Int], bytes: [UInt8]) {
        let part = name == "padding-crop" ? "padding_crop_fixtures" : "image_fixtures"
        guard let file = name == "padding-crop" ? paddingCrop : file else {
            throw MissingFixture(description: "Tests/Fixtures/expected/\(name).safetensors is missing; run generate_fixtures.py --only \(part)")
        }
        let t = try file.tensor(key)
        return (t.shape, t.scalars.map { UInt8($0) })
    }

    static func image(_ name: String) -> String { Fixtures.path("images/\(name)") }
}

/// Exact equality, reporting how many values differ and by how much at most.
func assertSame(_ actual: [UInt8], _ shape: [Int], _ key: String, in name: String = "image-inputs",
                file: StaticString = #filePath, line: UInt = #line) throws {
    let (expectedShape, expected) = try Reference.bytes(key, in: name)
    XCTAssertEqual(shape, expectedShape, "\(key): shape", file: file, line: line)
    guard shape == expectedShape else { return }
    let differing = zip(actual, expected).filter { $0 != $1 }
    let worst = differing.map { abs(Int($0) - Int($1)) }.max() ?? 0
    XCTAssertTrue(differing.isEmpty, "\(key): \(differing.count) of \(expected.count) values differ, by at most \(worst)", file: file, line: line)
}

func assertSame(_ image: RGBImage, _ key: String, in name: String = "image-inputs", file: StaticString = #filePath, line: UInt = #line) throws {
    try assertSame(image.pixels, [image.height, image.width, 3], key, in: name, file: file, line: line)
}

func assertSame(_ image: GrayImage, _ key: String, in name: String = "image-inputs", file: StaticString = #filePath, line: UInt = #line) throws {
    try assertSame(image.pixels, [image.height, image.width], key, in: name, file: file, line: line)
}

/// A committed reference file is missing: the test fails (it does not skip).
struct MissingFixture: Error, CustomStringConvertible { let description: String }
