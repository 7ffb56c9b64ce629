/// A token matched in the text before BPE, as tokenizers' `AddedToken` (the `added_tokens` of
/// tokenizer.json): special tokens such as `<|endoftext|>` and tokens added later (textual
/// inversion). `normalized` tokens match the normalized (lower-cased) text, others the raw text;
/// `lstrip`/`rstrip` swallow the whitespace beside a match; `singleWord` tokens match only
/// between non-word characters.
public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int32
    public var special: Bool
    public var normalized: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    public var singleWord: Bool

    /// Defaults as tokenizers' `AddedToken::from(content, special)`: special tokens are matched
    /// in the raw text, others in the normalized text.
    public init(content: String, id: Int32, special: Bool = false, normalized: Bool? = nil,
                lstrip: Bool = false, rstrip: Bool = false, singleWord: Bool = false) {
        self.content = content
        self.id = id
        self.special = special
        self.normalized = normalized ?? !special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
    }
}

/// Finds added tokens in text as tokenizers' `AddedVocabulary::find_matches` does: successive
/// non-overlapping leftmost-longest matches; a `singleWord` match touching a word character is
/// skipped (and the search goes on after it); `lstrip`/`rstrip` widen a match over whitespace.
struct AddedTokenMatcher: Sendable {
    struct Pattern: Sendable {
        let scalars: [Unicode.Scalar]
        let token: AddedToken
    }

    enum Segment: Equatable {
        case token(Int32)
        case text(ArraySlice<Unicode.Scalar>)
    }

    /// Patterns by their first scalar, longest first.
    let patterns: [Unicode.Scalar: [Pattern]]

    init(_ list: [(scalars: [Unicode.Scalar], token: AddedToken)]) {
        var table: [Unicode.Scalar: [Pattern]] = [:]
        for (scalars, token) in list {
            guard let first = scalars.first else { continue }
            table[first, default: []].append(Pattern(scalars: scalars, token: token))
        }
        patterns = table.mapValues { $0.sorted { $0.scalars.count > $1.scalars.count } }
    }

    var isEmpty: Bool { patterns.isEmpty }

    /// Splits `text` into added tokens and the text between them (never empty pieces).
    func split(_ text: [Unicode.Scalar]) -> [Segment] {
        guard !patterns.isEmpty else { return text.isEmpty ? [] : [.text(text[...])] }
        var segments: [Segment] = []
        var start = 0   // end of the last piece emitted
        var position = 0
        while let (at, pattern) = nextMatch(in: text, from: position) {
            var s = at, e = at + pattern.scalars.count
            position = e
            let token = pattern.token
            if token.singleWord {
                let leftOK = s == 0 || !AddedTokenMatcher.isWord(text[s - 1])
                let rightOK = e == text.count || !AddedTokenMatcher.isWord(text[e])
                if !(leftOK && rightOK) { continue }
            }
            if token.lstrip {
                while s > start && text[s - 1].properties.isWhitespace { s -= 1 }
            }
            if token.rstrip {
                while e < text.count && text[e].properties.isWhitespace { e += 1 }
                position = e
            }
            if start < s { segments.append(.text(text[start..<s])) }
            segments.append(.token(token.id))
            start = e
        }
        if start < text.count { segments.append(.text(text[start...])) }
        return segments
    }

    /// The leftmost match at or after `from`, the longest one there.
    private func nextMatch(in text: [Unicode.Scalar], from: Int) -> (Int, Pattern)? {
        var i = from
        while i < text.count {
            if let candidates = patterns[text[i]] {
                for p in candidates where i + p.scalars.count <= text.count {
                    var k = 1
                    while k < p.scalars.count && text[i + k] == p.scalars[k] { k += 1 }
                    if k == p.scalars.count { return (i, p) }
                }
            }
            i += 1
        }
        return nil
    }

    /// Rust regex's Unicode `\w`: alphabetic, marks, decimal digits, connector punctuation, join controls.
    static func isWord(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
