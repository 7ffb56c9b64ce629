import Foundation

/// CLIP's byte-level BPE tokenizer, equal in its ids to transformers' `CLIPTokenizer` (tokenizers
/// backend) called as diffusers' SDXL pipelines call it:
/// `padding="max_length", max_length=77, truncation=True`.
///
/// Output: `<|startoftext|>`, the prompt's tokens (cut so the sequence fits), `<|endoftext|>`,
/// then the pad token up to `maxLength`. SDXL's `tokenizer` pads with `<|endoftext|>`, its
/// `tokenizer_2` with `!`; the pad token is read from the folder, never assumed. Loading:
/// `init(folder:)` (either folder layout), `bundled(padToken:)` (Kiln's own copy of CLIP's
/// vocabulary).
public struct CLIPTokenizer: Sendable {
    public static let startToken = "<|startoftext|>"
    public static let endToken = "<|endoftext|>"

    public let maxLength: Int
    public let padToken: String
    public let startID: Int32
    public let endID: Int32
    public let padID: Int32
    /// Tokens matched before BPE, with their ids: the file's added tokens, then the special
    /// tokens CLIP needs (start, end, pad, unknown) where the file did not list them.
    public let addedTokens: [AddedToken]
    /// Distinct tokens: the BPE vocabulary and the added tokens not in it.
    public let vocabularySize: Int
    /// The BPE model's vocabulary (added tokens are matched before BPE and never looked up here).
    let vocabulary: [String: Int32]
    let encoder: BytePairEncoder
    let unknownID: Int32
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher

    /// A tokenizer from its parts, checked as tokenizers checks them when it builds a BPE model:
    /// every merge's two symbols and their concatenation must be in the vocabulary.
    public init(vocabulary: [String: Int32], merges: [(String, String)], padToken: String,
                maxLength: Int = 77, addedTokens: [AddedToken] = [], unknownToken: String = CLIPTokenizer.endToken,
                source: String = "tokenizer") throws {
        try TokenizerLimits.check(vocabulary.count, TokenizerLimits.maxVocabulary, "a vocabulary of \(vocabulary.count) tokens", path: source)
        try TokenizerLimits.check(merges.count, TokenizerLimits.maxMerges, "\(merges.count) merge rules", path: source)
        try TokenizerLimits.check(addedTokens.count, TokenizerLimits.maxAddedTokens, "\(addedTokens.count) added tokens", path: source)
        var ranks: [String: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (i, m) in merges.enumerated() {
            for symbol in [m.0, m.1, m.0 + m.1] where vocabulary[symbol] == nil {
                throw TokenizerError.mergeOutOfVocabulary(path: source, merge: "\(m.0) \(m.1)", token: symbol)
            }
            let key = m.0 + " " + m.1
            if ranks[key] == nil { ranks[key] = i }
        }
        encoder = BytePairEncoder(ranks: ranks)

        var lookup = vocabulary
        for t in addedTokens { lookup[t.content] = t.id }
        guard let s = lookup[CLIPTokenizer.startToken] else { throw TokenizerError.missingToken(path: source, token: CLIPTokenizer.startToken) }
        guard let e = lookup[CLIPTokenizer.endToken] else { throw TokenizerError.missingToken(path: source, token: CLIPTokenizer.endToken) }
        guard let p = lookup[padToken] else { throw TokenizerError.missingToken(path: source, token: padToken) }
        guard let u = lookup[unknownToken] else { throw TokenizerError.missingToken(path: source, token: unknownToken) }
        startID = s; endID = e; padID = p; unknownID = u
        self.padToken = padToken
        self.maxLength = max(2, maxLength)
        self.vocabulary = vocabulary
        vocabularySize = lookup.count

        // transformers registers bos, eos, unk and pad as special added tokens when it loads a tokenizer.
        var all = addedTokens
        for (content, id) in [(CLIPTokenizer.startToken, s), (CLIPTokenizer.endToken, e), (unknownToken, u), (padToken, p)]
            where !all.contains(where: { $0.content == content }) {
            all.append(AddedToken(content: content, id: id, special: true))
        }
        self.addedTokens = all
        (rawMatcher, normalizedMatcher) = CLIPTokenizer.matchers(all)
    }

    /// The tokenizer with `contents` added as transformers' `add_tokens` adds plain strings
    /// (normalized, not special; how diffusers' `load_textual_inversion` adds its tokens). A
    /// token already known keeps its id; a new one takes the next id after the vocabulary and
    /// the added tokens, as tokenizers' `AddedVocabulary::add_tokens` assigns them.
    public func addingTokens(_ contents: [String]) throws -> CLIPTokenizer {
        var added = addedTokens
        var known = Dictionary(added.map { ($0.content, $0.id) }, uniquingKeysWith: { first, _ in first })
        for content in contents where !content.isEmpty && !added.contains(where: { $0.content == content }) {
            try TokenizerLimits.checkToken(content, path: "added token")
            let id: Int32
            if let existing = known[content] ?? vocabulary[content] {
                id = existing
            } else {
                let modelSize = Int32(clamping: vocabulary.count)
                let maxAdded = added.map(\.id).max()
                id = maxAdded.map { $0 >= modelSize ? $0 + 1 : modelSize } ?? modelSize
            }
            added.append(AddedToken(content: content, id: id))
            known[content] = id
        }
        try TokenizerLimits.check(added.count, TokenizerLimits.maxAddedTokens, "\(added.count) added tokens", path: "added tokens")
        return CLIPTokenizer(copying: self, addedTokens: added)
    }

    private init(copying other: CLIPTokenizer, addedTokens: [AddedToken]) {
        maxLength = other.maxLength
        padToken = other.padToken
        startID = other.startID; endID = other.endID; padID = other.padID; unknownID = other.unknownID
        vocabulary = other.vocabulary
        encoder = other.encoder
        self.addedTokens = addedTokens
        vocabularySize = Set(vocabulary.keys).union(addedTokens.map(\.content)).count
        (rawMatcher, normalizedMatcher) = CLIPTokenizer.matchers(addedTokens)
    }

    /// Tokens matched in the raw text, and those matched in the normalized text by their
    /// normalized content (tokenizers' `split_trie` and `split_normalized_trie`).
    static func matchers(_ tokens: [AddedToken]) -> (raw: AddedTokenMatcher, normalized: AddedTokenMatcher) {
        (AddedTokenMatcher(tokens.filter { !$0.normalized }.map { (Array($0.content.unicodeScalars), $0) }),
         AddedTokenMatcher(tokens.filter(\.normalized).map { (Array(PreTokenizer.normalize($0.content).unicodeScalars), $0) }))
    }

    /// The token ids of `text` without start, end or padding.
    public func tokenIDs(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        for piece in PreTokenizer.split(text, raw: rawMatcher, normalized: normalizedMatcher) {
            switch piece {
            case .token(let id): ids.append(id)
            case .word(let word):
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
