import Foundation

extension CLIPTokenizer {
    /// Loads a tokenizer folder in whichever layout it has, as transformers' `CLIPTokenizer`
    /// (tokenizers backend) does: `tokenizer.json` (transformers 5's `save_pretrained` writes only
    /// it and tokenizer_config.json; preferred when present, as transformers prefers it), else
    /// `vocab.json` + `merges.txt` (the SDXL repositories' layout). Either may be `.gz`. The pad
    /// token and maximum length come from tokenizer_config.json, then special_tokens_map.json
    /// when present; `padTokenOverride` replaces the pad token as `from_pretrained(pad_token=)`.
    public init(folder: String, padTokenOverride: String? = nil) throws {
        func file(_ name: String) -> String? {
            let p = (folder as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: p) { return p }
            if FileManager.default.fileExists(atPath: p + ".gz") { return p + ".gz" }
            return nil
        }
        let (pad, maxLength) = try CLIPTokenizer.readSpecialTokens(folder: folder)
        if let jsonPath = file("tokenizer.json") {
            let parts = try TokenizerJSON(path: jsonPath)
            try self.init(vocabulary: parts.vocabulary, merges: parts.merges, padToken: padTokenOverride ?? pad,
                          maxLength: maxLength, addedTokens: parts.addedTokens,
                          unknownToken: parts.unknownToken ?? CLIPTokenizer.endToken, source: jsonPath)
            return
        }
        let hint = "a tokenizer folder needs tokenizer.json (transformers 5), or vocab.json and merges.txt"
        guard let vocabPath = file("vocab.json") else {
            throw TokenizerError.missingFile(path: (folder as NSString).appendingPathComponent("vocab.json"), hint: hint)
        }
        guard let mergesPath = file("merges.txt") else {
            throw TokenizerError.missingFile(path: (folder as NSString).appendingPathComponent("merges.txt"), hint: hint)
        }
        try self.init(vocabulary: try VocabularyFiles.vocabulary(path: vocabPath), merges: try VocabularyFiles.merges(path: mergesPath),
                      padToken: padTokenOverride ?? pad, maxLength: maxLength, source: vocabPath)
    }

    /// The pad token (default `<|endoftext|>`) and `model_max_length` (default 77) of a folder:
    /// tokenizer_config.json, then special_tokens_map.json, the later file winning; either may be
    /// missing, but one that is present must be a JSON object.
    static func readSpecialTokens(folder: String) throws -> (pad: String, maxLength: Int) {
        var pad: String? = nil
        var maxLength = 77
        func token(_ v: Any?) -> String? {
            if let s = v as? String { return s }
            if let d = v as? [String: Any] { return d["content"] as? String }
            return nil
        }
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let p = (folder as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: p) else { continue }
            let obj = try TokenizerFile.jsonObject(p, limit: TokenizerLimits.maxConfigBytes)
            if let t = token(obj["pad_token"]) {
                try TokenizerLimits.checkToken(t, path: p)
                pad = t
            }
            if let m = obj["model_max_length"] as? NSNumber, m.doubleValue > 1, m.doubleValue <= 4096 { maxLength = m.intValue }
        }
        return (pad ?? CLIPTokenizer.endToken, maxLength)
    }
}
