import Foundation
import KilnTestSupport
import XCTest

/// A tiny PNG declaring a huge image is refused from its header, before decoding.
final class HostileImageTests: XCTestCase {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let body = Array(type.utf8) + data
        return be(UInt32(data.count)) + body + be(crc32(body))
    }

    /// Signature, IHDR of `width` x `height` 8-bit RGB, a small zlib IDAT and IEND.
    static func bombPNG(width: UInt32, height: UInt32) -> Data {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let ihdr = be(width) + be(height) + [8, 2, 0, 0, 0]
        let idat: [UInt8] = [0x78, 0x9C] + [UInt8](repeating: 0x00, count: 100) // never inflated
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", []))
    }

    func testWatermarkRefusesADecompressionBombFromItsHeader() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bomb.png"
        try HostileImageTests.bombPNG(width: 30000, height: 30000).write(to: URL(fileURLWithPath: path))
        let start = Date()
        let r = try KilnProcess.run(["watermark", path])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(path) && r.stderr.contains("30000x30000"), r.stderr)
    }
}
