import Foundation

/// AUTOMATIC1111's attention syntax, parsed as its `parse_prompt_attention` parses it: `(x)`
/// multiplies by 1.1, `[x]` divides by 1.1, `(x:1.3)` multiplies by 1.3 (nested brackets
/// multiply; `(x: 1.3 )` too), `\(` `\)` `\[` `\]` `\\` are the literal characters (a lone `\` is dropped), a
/// bracket never closed applies to the end of the prompt, a closing bracket never opened is text,
/// and `BREAK` (a word of its own) ends the chunk. Runs of equal weight are joined.
public enum A1111Prompt {
    /// The weighted pieces, `WeightedFragment.breakMarker` for each `BREAK`.
    public static func parse(_ text: String) throws -> [WeightedFragment] {
        var result: [(text: String, weight: Double)] = []
        var round: [Int] = [], square: [Int] = []
        func multiply(from start: Int, by factor: Double) {
            for i in start..<result.count { result[i].weight *= factor }
        }
        for token in tokens(Array(text.unicodeScalars)) {
            switch token {
            case .escaped(let s): result.append((s, 1.0))
            case .open("("): round.append(result.count)
            case .open(_): square.append(result.count)
            case .weight(let w, let raw) where !round.isEmpty:
                guard let value = number(w) else {
                    throw RenderError.invalid(parameter: "prompt", reason: "'\(raw)' gives the weight '\(w)', which is not a number; write it like (word:1.2)")
                }
                multiply(from: round.removeLast(), by: value)
            case .close(")") where !round.isEmpty: multiply(from: round.removeLast(), by: 1.1)
            case .close("]") where !square.isEmpty: multiply(from: square.removeLast(), by: 1 / 1.1)
            case .weight(_, let raw), .text(let raw), .close(let raw), .open(let raw):
                for (i, part) in splitAtBreak(raw).enumerated() {
                    if i > 0 { result.append(("BREAK", -1)) }
                    result.append((part, 1.0))
                }
            }
        }
        for start in round { multiply(from: start, by: 1.1) }
        for start in square { multiply(from: start, by: 1 / 1.1) }
        if result.isEmpty { result = [("", 1.0)] }
        var i = 0
        while i + 1 < result.count {
            if result[i].weight == result[i + 1].weight {
                result[i].text += result[i + 1].text
                result.remove(at: i + 1)
            } else {
                i += 1
            }
        }
        return result.map { $0.text == "BREAK" && $0.weight == -1 ? .breakMarker : WeightedFragment(text: $0.text, weight: $0.weight) }
    }

    enum Token { case escaped(String), open(String), close(String), weight(String, raw: String), text(String) }

    /// The prompt cut as A1111's `re_attention` cuts it, alternatives in its order.
    static func tokens(_ s: [Unicode.Scalar]) -> [Token] {
        var out: [Token] = []
        var i = 0
        let special: Set<Unicode.Scalar> = ["\\", "(", ")", "[", "]", ":"]
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                if i + 1 < s.count, ["(", ")", "[", "]", "\\"].contains(s[i + 1]) {
                    out.append(.escaped(String(s[i + 1]))); i += 2
                } else {
                    out.append(.escaped("")); i += 1
                }
            } else if c == "(" || c == "[" {
                out.append(.open(String(c))); i += 1
            } else if c == ":" {
                // `:\s*([+-]?[.\d]+)\s*\)`, else a lone ':' is text.
                var j = i + 1
                while j < s.count, A1111Extensions.isSpace(s[j]) { j += 1 }
                let numberStart = j
                if j < s.count, s[j] == "+" || s[j] == "-" { j += 1 }
                let digitsStart = j
                while j < s.count, s[j] == "." || s[j].properties.numericType == .decimal { j += 1 }
                let numberEnd = j
                while j < s.count, A1111Extensions.isSpace(s[j]) { j += 1 }
                if numberEnd > digitsStart, j < s.count, s[j] == ")" {
                    let w = String(String.UnicodeScalarView(s[numberStart..<numberEnd]))
                    out.append(.weight(w, raw: String(String.UnicodeScalarView(s[i...j])))); i = j + 1
                } else {
                    out.append(.text(":")); i += 1
                }
            } else if c == ")" || c == "]" {
                out.append(.close(String(c))); i += 1
            } else {
                var j = i
                while j < s.count, !special.contains(s[j]) { j += 1 }
                out.append(.text(String(String.UnicodeScalarView(s[i..<j])))); i = j
            }
        }
        return out
    }

    /// Python's `float()` on `[+-]?[.\d]+`: digits (any script's, as `\d`) with at most one point,
    /// at least one digit.
    static func number(_ s: String) -> Double? {
        let ascii = String(String.UnicodeScalarView(s.unicodeScalars.map { c -> Unicode.Scalar in
            guard c.properties.numericType == .decimal, let v = c.properties.numericValue else { return c }
            return Unicode.Scalar(UInt8(48 + Int(v)))
        }))
        let body = ascii.drop { $0 == "+" || $0 == "-" }
        guard body.filter({ $0 == "." }).count <= 1, body.contains(where: \.isNumber) else { return nil }
        return Double(ascii.hasPrefix("+") ? String(ascii.dropFirst()) : ascii)
    }

    /// `re.split(r"\s*\bBREAK\b\s*", text)`: `BREAK` as a whole word, with the whitespace around it.
    static func splitAtBreak(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        let word: [Unicode.Scalar] = ["B", "R", "E", "A", "K"]
        func isWord(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c.properties.numericType != nil || c == "_" }
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) }
        var parts: [String] = [], current = 0, i = 0
        while i + word.count <= s.count {
            let matches = Array(s[i..<(i + word.count)]) == word
                && (i == 0 || !isWord(s[i - 1])) && (i + word.count == s.count || !isWord(s[i + word.count]))
            guard matches else { i += 1; continue }
            var start = i
            while start > current, isSpace(s[start - 1]) { start -= 1 }
            var end = i + word.count
            while end < s.count, isSpace(s[end]) { end += 1 }
            parts.append(String(String.UnicodeScalarView(s[current..<start])))
            current = end; i = end
        }
        parts.append(String(String.UnicodeScalarView(s[current...])))
        return parts
    }
}
