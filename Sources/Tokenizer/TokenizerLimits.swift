/// Bounds on what a tokenizer file can make Kiln allocate. CLIP's tokenizer (the one every SDXL
/// model uses) has 49408 tokens, 48894 merges, 2 added tokens, no token longer than a few dozen
/// bytes, and a 3.6 MB tokenizer.json; the limits leave ample room for any real BPE tokenizer and
/// refuse files made to exhaust memory before they are parsed or stored.
public enum TokenizerLimits {
    /// Bytes of one tokenizer file, after decompression for `.gz` files.
    public static let maxFileBytes = 32 << 20
    /// Bytes of the small JSON files beside it (tokenizer_config.json, special_tokens_map.json).
    public static let maxConfigBytes = 1 << 20
    /// JSON values (objects, arrays and the elements inside them) in one file, counted before
    /// parsing: CLIP's tokenizer.json has about 200,000.
    public static let maxJSONValues = 1_000_000
    public static let maxVocabulary = 200_000
    public static let maxMerges = 200_000
    public static let maxAddedTokens = 65_536
    /// UTF-8 bytes of one token, merge symbol or added token.
    public static let maxTokenBytes = 1024

    /// Throws when `count` is over `limit`; `what` describes what was counted ("a vocabulary of
    /// 300000 tokens").
    static func check(_ count: Int, _ limit: Int, _ what: @autoclosure () -> String, path: String) throws {
        if count > limit { throw TokenizerError.tooLarge(path: path, what: what(), limit: limit) }
    }

    /// Throws when a token is longer than `maxTokenBytes`.
    static func checkToken(_ token: String, path: String) throws {
        let n = token.utf8.count
        if n > maxTokenBytes {
            throw TokenizerError.tooLarge(path: path, what: "a token of \(n) bytes ('\(token.prefix(24))...')", limit: maxTokenBytes)
        }
    }
}
