import Foundation
import KilnTestSupport
import Tokenizer
import XCTest

final class CLIPTokenizerTests: XCTestCase {
    struct Case: Decodable { let pad_token: String; let prompt: String; let ids: [Int32] }

    func loadCases() throws -> [Case] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("tokens.json")))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    /// Full 49408-token CLIP vocabulary against transformers' ids on varied prompts.
    func testFullVocabularyMatchesTransformers() throws {
        let folder = Fixtures.path("tokenizer-full")
        let cases = try loadCases()
        XCTAssertGreaterThanOrEqual(Set(cases.map(\.prompt)).count, 30)
        var tokenizers: [String: CLIPTokenizer] = [:]
        let base = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(base.vocabularySize, 49408)
        for c in cases {
            let tok: CLIPTokenizer
            if let t = tokenizers[c.pad_token] { tok = t } else {
                let t = try CLIPTokenizer(folder: folder, padTokenOverride: c.pad_token)
                tokenizers[c.pad_token] = t
                tok = t
            }
            XCTAssertEqual(tok.encode(c.prompt), c.ids, "prompt \(c.prompt.debugDescription) pad \(c.pad_token)")
        }
    }

    func testPadTokenComesFromTheFolder() throws {
        let t1 = try CLIPTokenizer(folder: Fixtures.model("tiny-sdxl-base/tokenizer"))
        let t2 = try CLIPTokenizer(folder: Fixtures.model("tiny-sdxl-base/tokenizer_2"))
        XCTAssertEqual(t1.padToken, "<|endoftext|>")
        XCTAssertEqual(t2.padToken, "!")
        XCTAssertEqual(t2.padID, 0)
        XCTAssertEqual(t1.encode("a cat").count, 77)
        XCTAssertEqual(t1.encode("a cat").last, t1.endID)
        XCTAssertEqual(t2.encode("a cat").last, 0)
    }

    func testTruncationKeepsEndTokenLast() throws {
        let t = try CLIPTokenizer(folder: Fixtures.path("tokenizer-full"))
        let ids = t.encode(String(repeating: "castle ", count: 200))
        XCTAssertEqual(ids.count, 77)
        XCTAssertEqual(ids.first, t.startID)
        XCTAssertEqual(ids.last, t.endID)
    }

    func testMissingFilesAreReportedByName() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try CLIPTokenizer(folder: dir)) { error in
            XCTAssertTrue("\(error)".contains("vocab.json"), "\(error)")
        }
        try "{\"a\": 1}".write(toFile: dir + "/vocab.json", atomically: true, encoding: .utf8)
        try "#version: 0.2\na b c\n".write(toFile: dir + "/merges.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CLIPTokenizer(folder: dir)) { error in
            XCTAssertTrue("\(error)".contains("merges.txt:2"), "\(error)")
        }
    }
}
