/// Splits a migration file into statements, since the extended query protocol runs one statement
/// per message. Semicolons end statements except inside quotes ('...', "..."), dollar-quoted
/// bodies ($$...$$, $tag$...$tag$) and comments (-- to the end of the line, /* ... */, nested).
enum SQLScript {
    static func statements(_ sql: String) -> [String] {
        let chars = Array(sql.unicodeScalars)
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        func flush() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty, !isOnlyComments(text) { out.append(text) }
            current = String.UnicodeScalarView()
        }
        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            var end = i + 1
            if c == "-" && next == "-" {
                while end < chars.count && chars[end] != "\n" { end += 1 }
            } else if c == "/" && next == "*" {
                var depth = 1
                end = i + 2
                while end < chars.count && depth > 0 {
                    if chars[end] == "/" && end + 1 < chars.count && chars[end + 1] == "*" { depth += 1; end += 2 }
                    else if chars[end] == "*" && end + 1 < chars.count && chars[end + 1] == "/" { depth -= 1; end += 2 }
                    else { end += 1 }
                }
            } else if c == "'" || c == "\"" {
                while end < chars.count {
                    if chars[end] == c {
                        if end + 1 < chars.count && chars[end + 1] == c { end += 2; continue }
                        end += 1
                        break
                    }
                    end += 1
                }
            } else if c == "$", let tagEnd = dollarTag(chars, from: i) {
                let tag = Array(chars[i...tagEnd])
                end = tagEnd + 1
                while end < chars.count && !(chars[end] == "$" && Array(chars[end..<min(end + tag.count, chars.count)]) == tag) { end += 1 }
                end = min(end + tag.count, chars.count)
            } else if c == ";" {
                flush()
                i += 1
                continue
            }
            current.append(contentsOf: chars[i..<end])
            i = end
        }
        flush()
        return out
    }

    /// The index of the `$` closing a dollar-quote tag opening at `start` (`$$` or `$name$`).
    static func dollarTag(_ chars: [Unicode.Scalar], from start: Int) -> Int? {
        var j = start + 1
        while j < chars.count {
            let c = chars[j]
            if c == "$" { return j }
            guard c == "_" || c.properties.isAlphabetic || (j > start + 1 && ("0"..."9").contains(c)) else { return nil }
            j += 1
        }
        return nil
    }

    /// True for text holding nothing but comments and whitespace.
    static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty || $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
    }
}
