import Foundation

/// Text normalisation and splitting as the CLIP tokenizer of transformers (tokenizers backend)
/// does it: added tokens matched in the raw text are cut out first (tokenizers'
/// `extract_and_normalize`); every other stretch is NFC-normalised, whitespace runs become one
/// space, the text is lower-cased; added tokens marked `normalized` are cut out of that; the rest
/// is split by the CLIP pattern `'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`
/// (whitespace dropped). The pattern's leading `<|startoftext|>|<|endoftext|>` alternatives are
/// left out on purpose: tokenizers' ByteLevel pre-tokenizer splits such a piece again with its own
/// pattern, so a lower-cased `<|ENDOFTEXT|>` in a prompt ends up as `<|`, `endoftext`, `|>`.
enum PreTokenizer {
    enum Piece: Equatable { case token(Int32), word(String) }

    static func split(_ text: String, raw: AddedTokenMatcher, normalized: AddedTokenMatcher) -> [Piece] {
        var pieces: [Piece] = []
        for segment in raw.split(Array(text.unicodeScalars)) {
            switch segment {
            case .token(let id): pieces.append(.token(id))
            case .text(let stretch):
                var view = String.UnicodeScalarView()
                view.append(contentsOf: stretch)
                let norm = Array(normalize(String(view)).unicodeScalars)
                for inner in normalized.split(norm) {
                    switch inner {
                    case .token(let id): pieces.append(.token(id))
                    case .text(let t): pieces += words(normalized: t).map { .word($0) }
                    }
                }
            }
        }
        return pieces
    }

    /// NFC, whitespace runs to one space, lower case (tokenizers' NFC, Replace(`\s+`, " "), Lowercase).
    static func normalize(_ text: String) -> String {
        let nfc = text.precomposedStringWithCanonicalMapping
        var out = String.UnicodeScalarView()
        var inSpace = false
        for s in nfc.unicodeScalars {
            if s.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                out.append(s)
                inSpace = false
            }
        }
        return String(out).lowercased()
    }

    private static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    private static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    private static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }

    private static func hasPrefix(_ scalars: ArraySlice<Unicode.Scalar>, at i: Int, _ prefix: [Unicode.Scalar]) -> Bool {
        guard i + prefix.count <= scalars.endIndex else { return false }
        return scalars[i..<(i + prefix.count)].elementsEqual(prefix)
    }

    /// The CLIP split of one normalised stretch of text, alternatives tried in the pattern's order.
    static func words(normalized scalars: ArraySlice<Unicode.Scalar>) -> [String] {
        var words: [String] = []
        var i = scalars.startIndex
        func take(_ from: Int, _ to: Int) {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: scalars[from..<to])
            words.append(String(v))
        }
        scan: while i < scalars.endIndex {
            let s = scalars[i]
            if s == "'" {
                for literal in contractions where hasPrefix(scalars, at: i, literal) {
                    take(i, i + literal.count)
                    i += literal.count
                    continue scan
                }
            }
            if s.properties.isWhitespace { i += 1; continue }
            if isLetter(s) {
                var j = i + 1
                while j < scalars.endIndex && isLetter(scalars[j]) { j += 1 }
                take(i, j); i = j
            } else if isNumber(s) {
                take(i, i + 1); i += 1
            } else {
                var j = i + 1
                while j < scalars.endIndex && !isLetter(scalars[j]) && !isNumber(scalars[j]) && !scalars[j].properties.isWhitespace { j += 1 }
                take(i, j); i = j
            }
        }
        return words
    }
}
