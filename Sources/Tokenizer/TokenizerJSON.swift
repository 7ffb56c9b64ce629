import Foundation

/// The parts of tokenizers' serialized `Tokenizer` (tokenizer.json) that a CLIP tokenizer needs,
/// the file transformers 5's `save_pretrained` writes in place of vocab.json and merges.txt:
/// `model` (type `BPE`: `vocab`, `merges` as `"left right"` strings or `["left", "right"]` pairs,
/// `unk_token`) and `added_tokens`. A model that is not CLIP's byte-level BPE (another type, or
/// BPE options that change the ids) is refused rather than tokenized differently.
struct TokenizerJSON {
    let vocabulary: [String: Int32]
    let merges: [(String, String)]
    let addedTokens: [AddedToken]
    let unknownToken: String?

    init(path: String) throws {
        let root = try TokenizerFile.jsonObject(path)
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.invalidJSON(path: path, reason: "no 'model' object")
        }
        // tokenizers writes the type; files without one are BPE when they have merges.
        let type = model["type"] as? String ?? (model["merges"] != nil ? "BPE" : "untyped")
        guard type == "BPE" else { throw TokenizerError.unsupportedModel(path: path, type: type) }
        try TokenizerJSON.checkCLIPOptions(model, path: path)
        vocabulary = try VocabularyFiles.vocabulary(from: model["vocab"], path: path, what: "model.vocab")
        merges = try TokenizerJSON.merges(model["merges"], path: path)
        addedTokens = try TokenizerJSON.addedTokens(root["added_tokens"], path: path)
        unknownToken = model["unk_token"] as? String
    }

    /// BPE options must be CLIP's: `</w>` ends a word, no subword prefix, no dropout, no byte
    /// fallback, merges always applied, unknown symbols not fused.
    static func checkCLIPOptions(_ model: [String: Any], path: String) throws {
        func text(_ key: String) -> String? { model[key] is NSNull ? nil : model[key] as? String }
        func flag(_ key: String) -> Bool { (model[key] as? Bool) ?? false }
        let suffix = text("end_of_word_suffix")
        guard suffix == "</w>" else {
            throw TokenizerError.unsupportedOption(path: path, option: "end_of_word_suffix", value: suffix.map { "'\($0)'" } ?? "unset", expected: "'</w>'")
        }
        if let prefix = text("continuing_subword_prefix"), !prefix.isEmpty {
            throw TokenizerError.unsupportedOption(path: path, option: "continuing_subword_prefix", value: "'\(prefix)'", expected: "none")
        }
        if let dropout = model["dropout"] as? NSNumber, dropout.doubleValue > 0 {
            throw TokenizerError.unsupportedOption(path: path, option: "dropout", value: "\(dropout.doubleValue)", expected: "none")
        }
        for key in ["byte_fallback", "ignore_merges", "fuse_unk"] where flag(key) {
            throw TokenizerError.unsupportedOption(path: path, option: key, value: "true", expected: "false")
        }
    }

    /// `["left right", ...]` (tokenizers before 0.20) or `[["left", "right"], ...]`.
    static func merges(_ value: Any?, path: String) throws -> [(String, String)] {
        guard let list = value as? [Any] else {
            throw TokenizerError.invalidMerges(path: path, line: 0, reason: "model.merges is not a list")
        }
        try TokenizerLimits.check(list.count, TokenizerLimits.maxMerges, "\(list.count) merge rules", path: path)
        var merges: [(String, String)] = []
        merges.reserveCapacity(list.count)
        for (i, entry) in list.enumerated() {
            let pair: [String]
            if let s = entry as? String {
                pair = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let a = entry as? [Any], a.count == 2, let l = a[0] as? String, let r = a[1] as? String {
                pair = [l, r]
            } else {
                pair = []
            }
            guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else {
                throw TokenizerError.invalidMerges(path: path, line: i + 1,
                    reason: "model.merges entry \(i + 1) is not \"left right\" or [\"left\", \"right\"]")
            }
            try TokenizerLimits.checkToken(pair[0] + pair[1], path: path)
            merges.append((pair[0], pair[1]))
        }
        return merges
    }

    /// `[{"id": 49407, "content": "<|endoftext|>", "special": true, "normalized": false, ...}]`.
    static func addedTokens(_ value: Any?, path: String) throws -> [AddedToken] {
        guard let value, !(value is NSNull) else { return [] }
        guard let list = value as? [Any] else { throw TokenizerError.invalidJSON(path: path, reason: "added_tokens is not a list") }
        try TokenizerLimits.check(list.count, TokenizerLimits.maxAddedTokens, "\(list.count) added tokens", path: path)
        var tokens: [AddedToken] = []
        for (i, entry) in list.enumerated() {
            guard let object = entry as? [String: Any], let content = object["content"] as? String else {
                throw TokenizerError.invalidJSON(path: path, reason: "added_tokens entry \(i + 1) has no 'content'")
            }
            guard !content.isEmpty else { continue }   // tokenizers ignores empty added tokens
            try TokenizerLimits.checkToken(content, path: path)
            let id = try VocabularyFiles.id(object["id"], of: content, path: path)
            func flag(_ key: String) -> Bool? { object[key] as? Bool }
            let special = flag("special") ?? false
            tokens.append(AddedToken(content: content, id: id, special: special, normalized: flag("normalized") ?? !special,
                                     lstrip: flag("lstrip") ?? false, rstrip: flag("rstrip") ?? false,
                                     singleWord: flag("single_word") ?? false))
        }
        return tokens
    }
}
