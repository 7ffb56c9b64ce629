import CZlib
import Foundation

/// CLIP's byte-level BPE tokenizer, equal in its ids to transformers' `CLIPTokenizer` called as
/// diffusers' SDXL pipelines call it: `padding="max_length", max_length=77, truncation=True`.
///
/// Output: `<|startoftext|>`, the prompt's tokens (cut so the sequence fits), `<|endoftext|>`,
/// then the pad token up to `maxLength`. SDXL's `tokenizer` pads with `<|endoftext|>`, its
/// `tokenizer_2` with `!`; the pad token is read from the folder, never assumed.
public struct CLIPTokenizer: Sendable {
    public static let startToken = "<|startoftext|>"
    public static let endToken = "<|endoftext|>"

    public let maxLength: Int
    public let padToken: String
    public let startID: Int32
    public let endID: Int32
    public let padID: Int32
    public var vocabularySize: Int { vocabulary.count }
    let vocabulary: [String: Int32]
    let encoder: BytePairEncoder
    let unknownID: Int32

    public init(vocabulary: [String: Int32], merges: [(String, String)], padToken: String,
                maxLength: Int = 77, source: String = "tokenizer") throws {
        self.vocabulary = vocabulary
        var ranks: [String: Int] = [:]
        for (i, m) in merges.enumerated() where ranks[m.0 + " " + m.1] == nil { ranks[m.0 + " " + m.1] = i }
        encoder = BytePairEncoder(ranks: ranks)
        guard let s = vocabulary[CLIPTokenizer.startToken] else { throw TokenizerError.missingToken(path: source, token: CLIPTokenizer.startToken) }
        guard let e = vocabulary[CLIPTokenizer.endToken] else { throw TokenizerError.missingToken(path: source, token: CLIPTokenizer.endToken) }
        guard let p = vocabulary[padToken] else { throw TokenizerError.missingToken(path: source, token: padToken) }
        startID = s; endID = e; padID = p; unknownID = e
        self.padToken = padToken
        self.maxLength = max(2, maxLength)
    }

    /// Loads `vocab.json` and `merges.txt` (or their `.gz` forms) and the pad token and maximum
    /// length from `special_tokens_map.json` / `tokenizer_config.json` in `folder`.
    public init(folder: String, padTokenOverride: String? = nil) throws {
        func file(_ name: String) -> String? {
            let p = (folder as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: p) { return p }
            if FileManager.default.fileExists(atPath: p + ".gz") { return p + ".gz" }
            return nil
        }
        guard let vocabPath = file("vocab.json") else {
            throw TokenizerError.missingFile(path: (folder as NSString).appendingPathComponent("vocab.json"))
        }
        guard let mergesPath = file("merges.txt") else {
            throw TokenizerError.missingFile(path: (folder as NSString).appendingPathComponent("merges.txt"))
        }
        let vocabData = try CLIPTokenizer.read(vocabPath)
        guard let object = (try? JSONSerialization.jsonObject(with: vocabData)) as? [String: Any] else {
            throw TokenizerError.invalidVocabulary(path: vocabPath, reason: "not a JSON object of token to id")
        }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(object.count)
        for (k, v) in object {
            guard let n = v as? NSNumber, n.int64Value >= 0, n.int64Value < Int64(Int32.max) else {
                throw TokenizerError.invalidVocabulary(path: vocabPath, reason: "id of '\(k)' is not a non-negative integer")
            }
            vocab[k] = Int32(n.int64Value)
        }
        guard let mergesText = String(data: try CLIPTokenizer.read(mergesPath), encoding: .utf8) else {
            throw TokenizerError.invalidMerges(path: mergesPath, line: 1, reason: "not UTF-8 text")
        }
        var merges: [(String, String)] = []
        for (n, line) in mergesText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (n == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw TokenizerError.invalidMerges(path: mergesPath, line: n + 1, reason: "expected two symbols separated by one space")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        let (pad, maxLength) = CLIPTokenizer.readSpecialTokens(folder: folder)
        try self.init(vocabulary: vocab, merges: merges, padToken: padTokenOverride ?? pad, maxLength: maxLength, source: vocabPath)
    }

    static func readSpecialTokens(folder: String) -> (pad: String, maxLength: Int) {
        var pad: String? = nil
        var maxLength = 77
        func token(_ v: Any?) -> String? {
            if let s = v as? String { return s }
            if let d = v as? [String: Any] { return d["content"] as? String }
            return nil
        }
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let p = (folder as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: p),
                  let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { continue }
            if let t = token(obj["pad_token"]) { pad = t }
            if let m = obj["model_max_length"] as? NSNumber, m.intValue > 1, m.intValue <= 4096 { maxLength = m.intValue }
        }
        return (pad ?? CLIPTokenizer.endToken, maxLength)
    }

    static func read(_ path: String) throws -> Data {
        if path.hasSuffix(".gz") {
            guard let gz = gzopen(path, "rb") else { throw TokenizerError.unreadable(path: path) }
            defer { gzclose(gz) }
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { gzread(gz, $0.baseAddress, UInt32($0.count)) }
                if n < 0 { throw TokenizerError.unreadable(path: path) }
                if n == 0 { break }
                data.append(buffer, count: Int(n))
            }
            return data
        }
        guard let d = FileManager.default.contents(atPath: path) else { throw TokenizerError.unreadable(path: path) }
        return d
    }

    /// Tokens matched in the raw text before normalisation, as transformers' added special tokens
    /// are: start, end and the pad token (so with `!` as pad, every `!` in a prompt is one token).
    var specialTokens: [String] {
        Array(Set([CLIPTokenizer.startToken, CLIPTokenizer.endToken, padToken])).sorted { $0.count > $1.count }
    }

    /// The token ids of `text` without start, end or padding.
    public func tokenIDs(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        for piece in PreTokenizer.split(text, specialTokens: specialTokens) {
            switch piece {
            case .special(let t): ids.append(vocabulary[t] ?? unknownID)
            case .text(let word):
                for symbol in encoder.symbols(for: word) { ids.append(vocabulary[symbol] ?? unknownID) }
            }
        }
        return ids
    }

    /// `maxLength` ids: start, the prompt's tokens (truncated), end, padding.
    public func encode(_ text: String) -> [Int32] {
        let body = tokenIDs(text).prefix(maxLength - 2)
        var ids: [Int32] = [startID]
        ids.append(contentsOf: body)
        ids.append(endID)
        while ids.count < maxLength { ids.append(padID) }
        return ids
    }
}
