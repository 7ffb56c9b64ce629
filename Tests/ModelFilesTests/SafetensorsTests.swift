import Foundation
import KilnTestSupport
import ModelFiles
import Numerics
import XCTest

final class SafetensorsTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ data: Data, _ name: String = "w.safetensors") throws -> String {
        let p = dir + "/" + name
        try data.write(to: URL(fileURLWithPath: p))
        return p
    }

    /// A file with a raw header and `dataBytes` zero bytes after it.
    func rawFile(header: String, dataBytes: Int) throws -> String {
        var d = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(count: dataBytes))
        return try write(d)
    }

    func assertFails(_ path: String, contains needles: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            XCTAssertTrue(text.contains(path), "names the file: \(text)", file: file, line: line)
            for n in needles { XCTAssertTrue(text.contains(n), "'\(n)' in: \(text)", file: file, line: line) }
        }
    }

    func testRoundTripF32F16AndBF16() throws {
        let a = Tensor(shape: [2, 3], scalars: [1, -2.5, 3.25, 0, 65504, -0.000061035156])
        let p = try write(try SafetensorsWriter.data([("a", a)]))
        XCTAssertEqual(try SafetensorsFile(path: p).load("a").scalars, a.scalars)
        let h = try write(try SafetensorsWriter.data([("a", a)], dtype: .f16), "h.safetensors")
        let f = try SafetensorsFile(path: h)
        XCTAssertEqual(f.info("a")?.dtype, .f16)
        XCTAssertEqual(try f.load("a").scalars, a.scalars)
        // BF16 written by hand: 1.0 = 0x3F80, -2.0 = 0xC000.
        let bf = try rawFile(header: #"{"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, dataBytes: 0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: bf))
        bytes.append(contentsOf: [0x80, 0x3F, 0x00, 0xC0])
        try bytes.write(to: URL(fileURLWithPath: bf))
        XCTAssertEqual(try SafetensorsFile(path: bf).load("b").scalars, [1, -2])
    }

    func testTruncatedFile() throws {
        assertFails(try write(Data([1, 2, 3])), contains: ["truncated"])
    }

    func testHeaderLengthPastEnd() throws {
        var d = Data()
        withUnsafeBytes(of: UInt64(5000).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data("{}".utf8))
        assertFails(try write(d), contains: ["header length 5000", "past the end"])
    }

    func testHugeHeaderLength() throws {
        var d = Data()
        withUnsafeBytes(of: UInt64.max.littleEndian) { d.append(contentsOf: $0) }
        assertFails(try write(d), contains: ["100 MB"])
    }

    func testInvalidHeaderJSON() throws {
        assertFails(try rawFile(header: "{not json", dataBytes: 0), contains: ["invalid safetensors header JSON"])
        assertFails(try rawFile(header: "[1,2]", dataBytes: 0), contains: ["not an object"])
    }

    func testOffsetsOutOfRange() throws {
        assertFails(try rawFile(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8),
                    contains: ["'w'", "ends at byte 16"])
        assertFails(try rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, dataBytes: 8),
                    contains: ["'w'", "data_offsets"])
    }

    func testDTypeShapeLengthDisagree() throws {
        assertFails(try rawFile(header: #"{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8),
                    contains: ["'w'", "F16 [3]"])
        assertFails(try rawFile(header: #"{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8),
                    contains: ["'w'", "unknown dtype Q4"])
        assertFails(try rawFile(header: #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8),
                    contains: ["'w'", "non-negative"])
    }

    func testOverlappingTensors() throws {
        assertFails(try rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12),
                    contains: ["'a'", "'b'", "overlap"])
    }

    func testIntegerTensorIsNotLoadedAsWeights() throws {
        let p = try rawFile(header: #"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, dataBytes: 8)
        let f = try SafetensorsFile(path: p)
        XCTAssertEqual(f.parameterCount, 0)
        XCTAssertThrowsError(try f.load("ids")) { XCTAssertTrue("\($0)".contains("dtype I64")) }
    }

    func testMissingFile() throws {
        assertFails(dir + "/absent.safetensors", contains: ["not found"])
    }

    func testShardedIndexReadsAllShards() throws {
        let a = Tensor(shape: [2], scalars: [1, 2]), b = Tensor(shape: [1], scalars: [3])
        _ = try write(try SafetensorsWriter.data([("a", a)]), "m-1.safetensors")
        _ = try write(try SafetensorsWriter.data([("b", b)]), "m-2.safetensors")
        let index = #"{"metadata":{},"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors"}}"#
        let p = try write(Data(index.utf8), "m.safetensors.index.json")
        let sharded = try ShardedWeights(indexPath: p)
        XCTAssertEqual(sharded.tensorNames, ["a", "b"])
        XCTAssertEqual(try sharded.load("b").scalars, [3])
        XCTAssertEqual(sharded.parameterCount, 3)
        let bad = try write(Data(#"{"weight_map":{"c":"m-1.safetensors"}}"#.utf8), "bad.index.json")
        XCTAssertThrowsError(try ShardedWeights(indexPath: bad)) { XCTAssertTrue("\($0)".contains("'c'")) }
    }
}
