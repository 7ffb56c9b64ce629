import Foundation
import KilnTestSupport
@testable import Tokenizer
import XCTest

/// Tokenizer folders in transformers 5's layout (tokenizer.json + tokenizer_config.json) against
/// transformers' ids read from the same files, and the refusals of files Kiln cannot honour.
final class TokenizerJSONTests: XCTestCase {
    struct Case: Decodable { let pad_token: String?; let prompt: String; let ids: [Int32] }

    func cases(_ name: String) throws -> [Case] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.expected(name)))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The full vocabulary from tokenizer.json (merges as pairs), both pad tokens, every prompt.
    func testFullTokenizerJSONMatchesTransformers() throws {
        let folder = Fixtures.path("tokenizer-json")
        let all = try cases("tokens-tokenizer-json.json")
        XCTAssertGreaterThanOrEqual(Set(all.map(\.prompt)).count, 30)
        let eot = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(eot.padToken, "<|endoftext|>")   // from tokenizer_config.json
        XCTAssertEqual(eot.vocabularySize, 49408)
        let bang = try CLIPTokenizer(folder: folder, padTokenOverride: "!")
        for c in all {
            let tok = c.pad_token == "!" ? bang : eot
            XCTAssertEqual(tok.encode(c.prompt), c.ids, "prompt \(c.prompt.debugDescription) pad \(c.pad_token ?? "")")
        }
    }

    /// Both layouts give the same ids: tokenizer.json against vocab.json + merges.txt.
    func testBothLayoutsAgree() throws {
        let json = try CLIPTokenizer(folder: Fixtures.path("tokenizer-json"))
        let files = try CLIPTokenizer(folder: Fixtures.path("tokenizer-full"))
        for c in try cases("tokens.json") where c.pad_token == "<|endoftext|>" {
            XCTAssertEqual(json.encode(c.prompt), files.encode(c.prompt), c.prompt)
            XCTAssertEqual(json.encode(c.prompt), c.ids, c.prompt)
        }
    }

    /// Added tokens of every kind (normalized, special with lstrip/rstrip, single_word) and merges
    /// written as "left right" strings.
    func testAddedTokensMatchTransformers() throws {
        let tok = try CLIPTokenizer(folder: Fixtures.path("tokenizer-added"))
        XCTAssertEqual(tok.padToken, "!")
        XCTAssertEqual(tok.addedTokens.first { $0.content == "[mask]" }, AddedToken(content: "[mask]", id: 1003, special: true, normalized: false, lstrip: true, rstrip: true))
        let all = try cases("tokens-added.json")
        XCTAssertGreaterThanOrEqual(all.count, 10)
        for c in all { XCTAssertEqual(tok.encode(c.prompt), c.ids, c.prompt.debugDescription) }
    }

    /// Tokens added as diffusers' load_textual_inversion adds them get transformers' ids.
    func testAddingTokensAsTransformersAddsThem() throws {
        let base = try CLIPTokenizer(folder: Fixtures.model("tiny-sdxl-base-tf5/tokenizer_2"))
        let tok = try base.addingTokens(["<Cat-Toy>", "<tok>", "<tok>_1"])
        XCTAssertEqual(tok.addedTokens.suffix(3).map(\.id), [1000, 1001, 1002])
        XCTAssertEqual(tok.vocabularySize, 1003)
        // A token the vocabulary has keeps its id (and is then matched before BPE, as in tokenizers).
        XCTAssertEqual(try base.addingTokens(["a"]).addedTokens.last?.id, 64)
        let expected = Dictionary(try cases("tokens-added.json").map { ($0.prompt, $0.ids) }, uniquingKeysWith: { a, _ in a })
        for prompt in ["a photo of <Cat-Toy> and <CAT-TOY>, <cat-toy>s", "<tok> <tok>_1 <tok>_10 <TOK>"] {
            XCTAssertEqual(tok.encode(prompt), expected[prompt], prompt)
        }
    }

    func testTokenizerJSONIsPreferredWhenBothLayoutsArePresent() throws {
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("tokenizer-added/\(name)"), toPath: dir + "/\(name)")
        }
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(atPath: Fixtures.model("tiny-sdxl-base/tokenizer_2/\(name)"), toPath: dir + "/\(name)")
        }
        XCTAssertEqual(try CLIPTokenizer(folder: dir).encode("x [mask] y")[2], 1003)
    }

    // MARK: refusals

    /// A tokenizer.json of the tiny tokenizer, edited by `edit`.
    func writeTokenizerJSON(_ edit: (inout [String: Any]) -> Void) throws -> String {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.path("tokenizer-added/tokenizer.json")))
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        return dir + "/tokenizer.json"
    }

    func assertRefused(_ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try CLIPTokenizer(folder: dir), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n"), message, file: file, line: line)
            XCTAssertTrue(message.hasPrefix(dir + "/tokenizer.json"), message, file: file, line: line)
            for part in expected { XCTAssertTrue(message.contains(part), message, file: file, line: line) }
        }
    }

    func testAModelThatIsNotBPEIsRefusedInOneLine() throws {
        _ = try writeTokenizerJSON { o in
            var model = o["model"] as? [String: Any] ?? [:]
            model["type"] = "WordPiece"
            o["model"] = model
        }
        assertRefused(["WordPiece", "not BPE"])
    }

    func testBPEOptionsThatChangeTheIdsAreRefused() throws {
        for (key, value, shown) in [("end_of_word_suffix", "" as Any, "end_of_word_suffix"), ("byte_fallback", true as Any, "byte_fallback"),
                                    ("continuing_subword_prefix", "##" as Any, "continuing_subword_prefix")] {
            _ = try writeTokenizerJSON { o in
                var model = o["model"] as? [String: Any] ?? [:]
                model[key] = value
                o["model"] = model
            }
            assertRefused([shown])
        }
    }

    func testMalformedMergesAndVocabularyAreRefused() throws {
        _ = try writeTokenizerJSON { o in
            var model = o["model"] as? [String: Any] ?? [:]
            model["merges"] = ["i n", "t h e x"]
            o["model"] = model
        }
        assertRefused(["entry 2"])
        _ = try writeTokenizerJSON { o in
            var model = o["model"] as? [String: Any] ?? [:]
            model["merges"] = [["i", "n"], ["q", "zz"]]
            o["model"] = model
        }
        assertRefused(["'q zz'", "not in the vocabulary"])
        _ = try writeTokenizerJSON { o in
            var model = o["model"] as? [String: Any] ?? [:]
            var vocab = model["vocab"] as? [String: Any] ?? [:]
            vocab["a"] = -3
            model["vocab"] = vocab
            o["model"] = model
        }
        assertRefused(["id of 'a'"])
        try Data("{\"model\": ".utf8).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        assertRefused(["not valid JSON"])
    }

    // MARK: limits on what a hostile file can make Kiln allocate

    func testTooManyTokensOrMergesAreRefusedBeforeTheyAreStored() throws {
        let many = TokenizerLimits.maxVocabulary + 1
        _ = try writeTokenizerJSON { o in
            var model = o["model"] as? [String: Any] ?? [:]
            var vocab: [String: Any] = [:]
            for i in 0..<many { vocab["t\(i)"] = i }
            model["vocab"] = vocab
            o["model"] = model
        }
        assertRefused(["vocabulary of \(many) tokens", "limit of \(TokenizerLimits.maxVocabulary)"])
        _ = try writeTokenizerJSON { o in
            var model = o["model"] as? [String: Any] ?? [:]
            model["merges"] = Array(repeating: "i n", count: TokenizerLimits.maxMerges + 1)
            o["model"] = model
        }
        assertRefused(["\(TokenizerLimits.maxMerges + 1) merge rules"])
    }

    func testLongTokensAndDeepFilesAreRefused() throws {
        _ = try writeTokenizerJSON { o in
            var model = o["model"] as? [String: Any] ?? [:]
            var vocab = model["vocab"] as? [String: Any] ?? [:]
            vocab[String(repeating: "x", count: TokenizerLimits.maxTokenBytes + 1)] = 5000
            model["vocab"] = vocab
            o["model"] = model
        }
        assertRefused(["a token of \(TokenizerLimits.maxTokenBytes + 1) bytes"])
        // A million empty arrays: refused from a count of its values, before parsing.
        var text = "{\"model\": ["
        text += Array(repeating: "[]", count: TokenizerLimits.maxJSONValues).joined(separator: ",")
        text += "]}"
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        assertRefused(["JSON document of", "values"])
    }

    func testFilesTooLargeAreRefusedBeforeTheyAreRead() throws {
        let path = dir + "/tokenizer.json"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(TokenizerLimits.maxFileBytes + 1))   // sparse: nothing is written
        try handle.close()
        assertRefused(["a file of \(TokenizerLimits.maxFileBytes + 1) bytes"])
        // Decompression stops at the limit.
        XCTAssertThrowsError(try TokenizerFile.gunzip(Fixtures.path("tokenizer-full/merges.txt.gz"), limit: 100_000)) { error in
            XCTAssertTrue("\(error)".contains("decompressed size"), "\(error)")
        }
    }
}
