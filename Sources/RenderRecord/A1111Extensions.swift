import Foundation

/// What AUTOMATIC1111 reads in a prompt besides `parse_prompt_attention`'s weights, refused in
/// a1111 mode: Kiln would take it as text and render a different image without a word. Each is
/// found as A1111 finds it: extra networks `<name:args>` (`re_extra_net`, positive prompts only),
/// `AND` and a trailing `:N` (composable diffusion: `re_AND` and `re_weight`, positive prompts
/// only), and prompt editing `[a:b:N]` / alternation `[a|b]` (its lark `schedule_parser`, which
/// applies only when the whole prompt parses; otherwise A1111 takes the prompt as it is).
enum A1111Extensions {
    /// Throws one line naming the first such construct in `text` and what to do instead.
    static func refuse(_ text: String, negative: Bool) throws {
        let s = Array(text.unicodeScalars)
        func quoted(_ r: Range<Int>) -> String {
            let t = String(String.UnicodeScalarView(s[r]))
            return "'" + (t.count > 80 ? String(t.prefix(77)) + "..." : t) + "'"
        }
        func refuse(_ reason: String) -> RenderError { .invalid(parameter: "prompt", reason: reason) }
        if !negative {
            if let (range, name, args) = extraNetwork(s) {
                let what = quoted(range)
                switch name.lowercased() {
                case "lora", "lyco":
                    let scale = args.count > 1 ? ":" + args[1] : ""
                    throw refuse("\(what) is an A1111 extra network (a LoRA), which Kiln does not read from the prompt: remove it and pass --lora FILE\(scale)")
                case "hypernet":
                    throw refuse("\(what) is an A1111 hypernetwork, which Kiln does not load: remove it")
                default:
                    throw refuse("\(what) is an A1111 extra network, which Kiln does not load: remove it")
                }
            }
            if let range = andWord(s) {
                throw refuse("\(quoted(range)) joins prompts for A1111's composable diffusion, which Kiln does not do: write 'and' for the word, or render the prompts apart")
            }
            if let range = trailingWeight(s) {
                throw refuse("ends in \(quoted(range)), which A1111 reads as the weight of the prompt's guidance (composable diffusion); Kiln does not: remove it, and scale --guidance instead")
            }
        }
        if let (range, alternate) = scheduling(s) {
            if alternate {
                throw refuse("\(quoted(range)) is A1111 alternation (the words take turns each step), which Kiln does not do: choose one, or make a job of each with a sweep's {a|b} template")
            }
            throw refuse("\(quoted(range)) is A1111 prompt editing (the text changes during sampling), which Kiln does not do: choose one text, or write \\[ \\] to keep the brackets as text")
        }
    }

    /// Python's `\w` and `\s` on one character (`str.isalnum()` or `_`; `str.isspace()`).
    static func isWord(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c.properties.numericType != nil || c == "_" }
    static func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) }

    /// `<(\w+):([^>]+)>`: the first match, its name and its `:`-separated arguments.
    static func extraNetwork(_ s: [Unicode.Scalar]) -> (Range<Int>, String, [String])? {
        for start in s.indices where s[start] == "<" {
            var i = start + 1
            while i < s.count, isWord(s[i]) { i += 1 }
            guard i > start + 1, i < s.count, s[i] == ":" else { continue }
            let argsStart = i + 1
            guard let close = s[argsStart...].firstIndex(of: ">"), close > argsStart else { continue }
            let name = String(String.UnicodeScalarView(s[(start + 1)..<i]))
            let args = String(String.UnicodeScalarView(s[argsStart..<close])).components(separatedBy: ":")
            return (start..<(close + 1), name, args)
        }
        return nil
    }

    /// `\bAND\b`: the first `AND` standing as a word of its own.
    static func andWord(_ s: [Unicode.Scalar]) -> Range<Int>? {
        let word: [Unicode.Scalar] = ["A", "N", "D"]
        guard s.count >= 3 else { return nil }
        for i in 0...(s.count - 3) where Array(s[i..<(i + 3)]) == word {
            if (i == 0 || !isWord(s[i - 1])) && (i + 3 == s.count || !isWord(s[i + 3])) { return i..<(i + 3) }
        }
        return nil
    }

    /// `re_weight`'s weight: the prompt ends in `\s*:\s*[-+]?(\d+\.?|\d*\.\d+)\s*`.
    static func trailingWeight(_ s: [Unicode.Scalar]) -> Range<Int>? {
        var end = s.count
        while end > 0, isSpace(s[end - 1]) { end -= 1 }
        var i = end, digitsAfterPoint = 0, digitsBefore = 0, point = false
        while i > 0, s[i - 1].properties.numericType == .decimal { i -= 1; digitsAfterPoint += 1 }
        if i > 0, s[i - 1] == "." {
            point = true; i -= 1
            while i > 0, s[i - 1].properties.numericType == .decimal { i -= 1; digitsBefore += 1 }
        }
        // `\d+\.?` or `\d*\.\d+`
        guard point ? (digitsBefore > 0 || digitsAfterPoint > 0) : digitsAfterPoint > 0 else { return nil }
        if i > 0, s[i - 1] == "+" || s[i - 1] == "-" { i -= 1 }
        while i > 0, isSpace(s[i - 1]) { i -= 1 }
        guard i > 0, s[i - 1] == ":" else { return nil }
        i -= 1
        while i > 0, isSpace(s[i - 1]) { i -= 1 }
        return i..<end
    }

    /// The first prompt editing (`alternate` false) or alternation group that A1111's
    /// `schedule_parser` finds, nil when there is none or the prompt does not parse. Inside a
    /// group every bracket must pair up, so each opening bracket has at most one group, found with
    /// one stack; at the top level stray `[ ] ( ) :` are text, but a `|` must sit in an
    /// alternation and a `\` must escape a character, or the whole prompt is left as it is.
    static func scheduling(_ s: [Unicode.Scalar]) -> (Range<Int>, alternate: Bool)? {
        struct Open { var at: Int; var colons: [Int] = []; var pipes = 0; var valid = true }
        var stack: [Open] = [], valid: [(range: Range<Int>, kind: Int)] = [], pipes: [Int] = []
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                guard i + 1 < s.count, s[i + 1] != "\n" else { return nil }
                i += 2; continue
            }
            switch c {
            case "(", "[": stack.append(Open(at: i))
            case ":": if !stack.isEmpty { stack[stack.count - 1].colons.append(i) }
            case "|":
                pipes.append(i)
                if !stack.isEmpty { stack[stack.count - 1].pipes += 1 }
            case ")", "]":
                guard let open = stack.popLast(), s[open.at] == (c == ")" ? "(" : "[") else {
                    stack.removeAll()  // a bracket that pairs with nothing: every open group is broken
                    break
                }
                // 0 emphasized, 1 scheduled, 2 alternate, nil not a group
                var kind: Int?
                if c == ")" {
                    kind = open.colons.count <= 1 && open.pipes == 0 ? 0 : nil
                } else if open.pipes > 0 {
                    kind = open.colons.isEmpty ? 2 : nil
                } else if open.colons.isEmpty {
                    kind = 0
                } else if open.colons.count <= 2, isNumber(s[(open.colons.last! + 1)..<i]) {
                    kind = 1
                }
                if let kind, open.valid {
                    valid.append((open.at..<(i + 1), kind))
                } else if !stack.isEmpty {
                    stack[stack.count - 1].valid = false
                }
            default: break
            }
            i += 1
        }
        for p in pipes where !valid.contains(where: { $0.range.contains(p) }) { return nil }
        guard let first = valid.filter({ $0.kind != 0 }).min(by: { $0.range.lowerBound < $1.range.lowerBound }) else { return nil }
        return (first.range, first.kind == 2)
    }

    /// `[WHITESPACE] NUMBER [WHITESPACE]` with lark's `SIGNED_NUMBER`: `[+-]?` then an integer,
    /// or a decimal (`1.`, `.5`, `1.5`), either with an optional exponent (`e-3`), ASCII digits.
    static func isNumber(_ t: ArraySlice<Unicode.Scalar>) -> Bool {
        var s = t[...]
        while let c = s.first, isSpace(c) { s = s.dropFirst() }
        while let c = s.last, isSpace(c) { s = s.dropLast() }
        func digits() -> Int {
            var n = 0
            while let c = s.first, ("0"..."9").contains(c) { s = s.dropFirst(); n += 1 }
            return n
        }
        if let c = s.first, c == "+" || c == "-" { s = s.dropFirst() }
        let whole = digits()
        var fraction = 0, point = false
        if s.first == "." { point = true; s = s.dropFirst(); fraction = digits() }
        guard whole > 0 || (point && fraction > 0) else { return false }
        if let c = s.first, c == "e" || c == "E" {
            s = s.dropFirst()
            if let c = s.first, c == "+" || c == "-" { s = s.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return s.isEmpty
    }
}
