import Foundation
@testable import KilnBasics
@testable import ModelFiles
import XCTest

/// SHA-256 against Python's hashlib, at every length around the padding's block boundaries, and
/// on a slice of a larger buffer (whose bytes do not start at index 0).
final class SHA256Tests: XCTestCase {
    /// Bytes (i * 7 + 3) mod 256, as the expected digests were made.
    func bytes(_ n: Int) -> Data { Data((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }) }

    func testDigestsEqualHashlibAroundBlockBoundaries() {
        let expected: [(Int, String)] = [
            (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5"),
            (55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
            (56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
            (57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"),
            (63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
            (64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
            (65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
            (119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
            (120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
            (128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"),
            (1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"),
            (100_003, "b4bec991fc613fcb4d2a26eb529e493ed4e3152cc00f0a49bd39b3e48b34824e"),
        ]
        for (n, digest) in expected { XCTAssertEqual(SHA256.hex(bytes(n)), digest, "\(n) bytes") }
    }

    /// The SHA extensions and the portable loop agree on every length from 0 to 300 bytes and on
    /// a megabyte of varied bytes; the digests above hold for both.
    func testHardwareAndPortableBlocksAgree() throws {
        try XCTSkipUnless(SHA256.hasHardwareSupport, "this CPU has no SHA extensions")
        var generator = SystemRandomNumberGenerator()
        let noise = Data((0..<(1 << 20) + 77).map { _ in UInt8.random(in: 0...255, using: &generator) })
        for n in Array(0...300) + [noise.count] {
            let data = noise.prefix(n)
            XCTAssertEqual(SHA256.hex(data, hardware: true), SHA256.hex(data, hardware: false), "\(n) bytes")
        }
        let expected = "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"
        XCTAssertEqual(SHA256.hex(bytes(1000), hardware: true), expected)
        XCTAssertEqual(SHA256.hex(bytes(1000), hardware: false), expected)
    }

    func testASliceHashesAsItsOwnBytes() {
        let whole = Data(repeating: 0xEE, count: 37) + bytes(1000)
        let slice = whole[37...]
        XCTAssertNotEqual(slice.startIndex, 0)
        XCTAssertEqual(SHA256.hex(slice), "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371")
    }
}
