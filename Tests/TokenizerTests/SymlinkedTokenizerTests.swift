import Foundation
import KilnTestSupport
import Tokenizer
import XCTest

/// A Hugging Face cache snapshot holds every file as a symlink into `blobs/`: a tokenizer folder
/// of symlinks tokenizes as the folder it points at, and a link to a FIFO is still refused.
final class SymlinkedTokenizerTests: XCTestCase {
    func testFolderOfSymlinksLoads() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = Fixtures.model("tiny-sdxl-base/tokenizer")
        try FileManager.default.createDirectory(atPath: dir + "/tokenizer", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.createSymbolicLink(atPath: dir + "/tokenizer/" + name, withDestinationPath: source + "/" + name)
        }
        let linked = try CLIPTokenizer(folder: dir + "/tokenizer"), plain = try CLIPTokenizer(folder: source)
        XCTAssertEqual(linked.encode("a photo of an astronaut"), plain.encode("a photo of an astronaut"))
        XCTAssertEqual(mkfifo(dir + "/fifo", 0o600), 0)
        try FileManager.default.removeItem(atPath: dir + "/tokenizer/vocab.json")
        try FileManager.default.createSymbolicLink(atPath: dir + "/tokenizer/vocab.json", withDestinationPath: dir + "/fifo")
        XCTAssertThrowsError(try CLIPTokenizer(folder: dir + "/tokenizer"))
    }
}
