import Foundation
import KilnTestSupport
import ModelFiles
import XCTest

/// `SHA256.hex(file:)`, which hashes swapped-in UNets and VAEs: the bytes' SHA-256, remembered for
/// the process while the file stays the same, computed again once it changes.
final class FileHashTests: XCTestCase {
    func testAFileIsHashedAgainOnlyWhenItChanges() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/unet.safetensors"
        try Data("first".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try SHA256.hex(file: path), SHA256.hex(Data("first".utf8)))
        XCTAssertEqual(try SHA256.hex(file: path), SHA256.hex(Data("first".utf8)))
        // Same size, new bytes: the modification time moves on, and the new bytes are hashed.
        Thread.sleep(forTimeInterval: 0.01)
        try Data("other".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try SHA256.hex(file: path), SHA256.hex(Data("other".utf8)))
        try Data().write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try SHA256.hex(file: path), SHA256.hex(Data()))
        XCTAssertThrowsError(try SHA256.hex(file: dir)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
    }
}
