import Foundation

/// The two-file BPE layout of the SDXL repositories and of transformers 4's `CLIPTokenizer`:
/// `vocab.json` (token to id) and `merges.txt` (`#version` line, then one `left right` rule a
/// line, ranked by order); also read `.gz`-compressed. The token-to-id parsing is shared with
/// tokenizer.json's `model.vocab`.
enum VocabularyFiles {
    static func vocabulary(path: String) throws -> [String: Int32] {
        try vocabulary(from: try TokenizerFile.jsonObject(path), path: path, what: "vocab.json")
    }

    /// A JSON object of token to id, checked against `TokenizerLimits`.
    static func vocabulary(from value: Any?, path: String, what: String) throws -> [String: Int32] {
        guard let object = value as? [String: Any] else {
            throw TokenizerError.invalidVocabulary(path: path, reason: "\(what) is not a JSON object of token to id")
        }
        try TokenizerLimits.check(object.count, TokenizerLimits.maxVocabulary, "a vocabulary of \(object.count) tokens", path: path)
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(object.count)
        for (token, v) in object {
            try TokenizerLimits.checkToken(token, path: path)
            vocab[token] = try id(v, of: token, path: path)
        }
        return vocab
    }

    /// A token id: a non-negative integer below 2^31.
    static func id(_ value: Any?, of token: String, path: String) throws -> Int32 {
        guard let n = value as? NSNumber, n.doubleValue == n.doubleValue.rounded(),
              n.doubleValue >= 0, n.doubleValue < Double(Int32.max) else {
            throw TokenizerError.invalidVocabulary(path: path, reason: "id of '\(token.prefix(40))' is not a non-negative integer")
        }
        return Int32(n.int64Value)
    }

    static func merges(path: String) throws -> [(String, String)] {
        guard let text = String(data: try TokenizerFile.read(path), encoding: .utf8) else {
            throw TokenizerError.invalidMerges(path: path, line: 1, reason: "not UTF-8 text")
        }
        var merges: [(String, String)] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (n == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw TokenizerError.invalidMerges(path: path, line: n + 1, reason: "expected two symbols separated by one space")
            }
            try TokenizerLimits.check(merges.count + 1, TokenizerLimits.maxMerges, "more than \(TokenizerLimits.maxMerges) merge rules", path: path)
            try TokenizerLimits.checkToken(String(line), path: path)
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }
}
