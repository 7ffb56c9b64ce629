import Foundation
import KilnTestSupport
@testable import Tokenizer
import XCTest

/// The CLIP vocabulary built from the merges list bundled with Kiln, read from the built product.
final class BundledVocabularyTests: XCTestCase {
    struct Case: Decodable { let pad_token: String; let prompt: String; let ids: [Int32] }

    func testTheResourceIsReadFromTheBuiltProduct() throws {
        let path = try XCTUnwrap(BundledVocabulary.path)
        XCTAssertTrue(path.contains(".resources") || path.contains(".bundle"), path)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber).intValue
        XCTAssertLessThan(size, 2 << 20)
        // Byte for byte the merges list the fixture script takes from open_clip.
        XCTAssertEqual(FileManager.default.contents(atPath: path), FileManager.default.contents(atPath: Fixtures.path("tokenizer-full/merges.txt.gz")))
    }

    /// The derived vocabulary is the 49408-token vocab.json that transformers' ids were made with.
    func testDerivedVocabularyEqualsCLIPs() throws {
        let parts = try BundledVocabulary.parts.get()
        XCTAssertEqual(parts.vocabulary.count, 49408)
        let reference = try VocabularyFiles.vocabulary(path: Fixtures.path("tokenizer-full/vocab.json.gz"))
        XCTAssertEqual(parts.vocabulary, reference)
        let merges = try VocabularyFiles.merges(path: Fixtures.path("tokenizer-full/merges.txt.gz"))
        XCTAssertEqual(parts.merges.count, merges.count)
        XCTAssertTrue(zip(parts.merges, merges).allSatisfy { $0 == $1 })
        XCTAssertEqual(parts.vocabulary["<|startoftext|>"], 49406)
        XCTAssertEqual(parts.vocabulary["!"], 0)
        XCTAssertEqual(parts.vocabulary["!</w>"], 256)
    }

    func testBundledTokenizersGiveTransformersIDs() throws {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected("tokens.json")))
        let cases = try JSONDecoder().decode([Case].self, from: data)
        let eot = try CLIPTokenizer.bundled(padToken: "<|endoftext|>")
        let bang = try CLIPTokenizer.bundled(padToken: "!")
        XCTAssertEqual(bang.padID, 0)
        for c in cases {
            XCTAssertEqual((c.pad_token == "!" ? bang : eot).encode(c.prompt), c.ids, c.prompt.debugDescription)
        }
    }

    func testShortOrMalformedMergeListsAreRefused() throws {
        XCTAssertThrowsError(try BundledVocabulary.mergeRules(Data("#version: 0.2\ni n\nt h\n".utf8), path: "m.txt")) {
            XCTAssertTrue("\($0)".contains("ends after 2 of CLIP's 48894"), "\($0)")
        }
        XCTAssertThrowsError(try BundledVocabulary.mergeRules(Data("#version: 0.2\ni n\nth\n".utf8), path: "m.txt")) {
            XCTAssertTrue("\($0)".hasPrefix("m.txt:3:"), "\($0)")
        }
    }
}

/// `KILN_RESOURCES` reaches the tokenizer as the folder `kiln` passes, searched first.
final class BundledVocabularyFolderTests: XCTestCase {
    override func tearDown() { BundledVocabulary.searchFirst(nil) }

    func testTheGivenFolderIsSearchedFirst() {
        let usual = BundledVocabulary.candidates
        BundledVocabulary.searchFirst("/tmp/kiln-resources")
        XCTAssertEqual(BundledVocabulary.candidates, ["/tmp/kiln-resources"] + usual)
        BundledVocabulary.searchFirst("")
        XCTAssertEqual(BundledVocabulary.candidates, usual)
    }
}
