import Foundation

/// Text normalisation and splitting as the CLIP tokenizer of transformers does it:
/// special tokens are cut out first; every other stretch is NFC-normalised, whitespace runs
/// become one space, the text is lower-cased, then split by the CLIP pattern
/// `'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+` (whitespace dropped).
enum PreTokenizer {
    enum Piece: Equatable { case special(String), text(String) }

    static func split(_ text: String, specialTokens: [String]) -> [Piece] {
        var pieces: [Piece] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            var earliest: (range: Range<Substring.Index>, token: String)? = nil
            for token in specialTokens {
                if let r = rest.range(of: token), earliest == nil || r.lowerBound < earliest!.range.lowerBound {
                    earliest = (r, token)
                }
            }
            guard let found = earliest else {
                pieces += words(in: String(rest)).map { .text($0) }
                break
            }
            pieces += words(in: String(rest[..<found.range.lowerBound])).map { .text($0) }
            pieces.append(.special(found.token))
            rest = rest[found.range.upperBound...]
        }
        return pieces
    }

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

    private static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    /// The CLIP split of one normalised stretch of text.
    static func words(in raw: String) -> [String] {
        let scalars = Array(normalize(raw).unicodeScalars)
        var words: [String] = []
        var i = 0
        func take(_ from: Int, _ to: Int) {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: scalars[from..<to])
            words.append(String(v))
        }
        while i < scalars.count {
            let s = scalars[i]
            if s == "'" {
                var matched = false
                for c in contractions where i + c.count < scalars.count + 0 && i + 1 + c.count <= scalars.count {
                    if Array(scalars[(i + 1)..<(i + 1 + c.count)]) == c {
                        take(i, i + 1 + c.count)
                        i += 1 + c.count
                        matched = true
                        break
                    }
                }
                if matched { continue }
            }
            if s.properties.isWhitespace { i += 1; continue }
            if isLetter(s) {
                var j = i + 1
                while j < scalars.count && isLetter(scalars[j]) { j += 1 }
                take(i, j); i = j
            } else if isNumber(s) {
                take(i, i + 1); i += 1
            } else {
                var j = i + 1
                while j < scalars.count && !isLetter(scalars[j]) && !isNumber(scalars[j]) && !scalars[j].properties.isWhitespace { j += 1 }
                take(i, j); i = j
            }
        }
        return words
    }
}
