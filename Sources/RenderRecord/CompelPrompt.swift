import Foundation

/// compel 2.5.1's prompt syntax, parsed as its pyparsing grammar (`compel/prompt_parser.py`)
/// parses it, then flattened and fused as `PromptParser.flatten` does: `word+`/`word-` (1.1 or
/// 0.9 per sign), `(a b)1.3`, `(a b)++`, `"a b"-`, `x.attend(0.8)`, nesting multiplies,
/// escapes `\(` `\)` `\"`; `("a", "b").blend(0.7, 0.3)` (and `no_normalize`) and `("a", "b").and()`
/// as compel builds them. `.swap()`, `withLora()` and a weighted `.and()` (which
/// `CompelForSDXL` cannot build) are refused.
public enum CompelPrompt {
    /// Brackets nested deeper than this are refused (the parser recurses on each).
    public static let maxNesting = 100

    public static func parse(_ text: String) throws -> WeightedPrompt {
        let prepared = spacedAfterCommas(text)
        if prepared.unicodeScalars.allSatisfy(isPythonSpace) { return .fragments([WeightedFragment(text: "", weight: 1)]) }
        // The parser recurses once per bracket; compel itself stops at Python's recursion limit.
        var depth = 0, deepest = 0
        for c in prepared.unicodeScalars {
            if c == "(" { depth += 1; deepest = max(deepest, depth) } else if c == ")" { depth = max(0, depth - 1) }
        }
        guard deepest <= maxNesting else {
            throw RenderError.invalid(parameter: "prompt", reason: "nests brackets \(deepest) deep, over the limit of \(maxNesting); flatten them")
        }
        var parser = CompelParser(Array(prepared.unicodeScalars))
        let prompt = try parser.parseAll()
        if case .fragments(let f) = prompt, f.isEmpty {
            throw RenderError.invalid(parameter: "prompt", reason: "'\(text)' leaves no text once compel's syntax is read; write some words")
        }
        return prompt
    }

    /// `flatten` and `fuse_fragments`: weights multiplied down the tree, neighbours of equal weight
    /// joined with a space.
    static func fused(_ nodes: [CompelParser.Node]) -> [WeightedFragment] {
        var flat: [WeightedFragment] = []
        flatten(nodes, scale: 1.0, into: &flat)
        var fused: [WeightedFragment] = []
        for f in flat {
            if let last = fused.last, last.weight == f.weight {
                // A new Fragment, so its text is unescaped once more, as every Fragment() is.
                fused[fused.count - 1].text = CompelParser.unescapedFragment(last.text + " " + f.text)
            } else {
                fused.append(f)
            }
        }
        return fused
    }

    static func flatten(_ nodes: [CompelParser.Node], scale: Double, into out: inout [WeightedFragment]) {
        for node in nodes {
            switch node {
            case .fragment(let t): out.append(WeightedFragment(text: CompelParser.unescapedFragment(t), weight: 1.0 * scale))
            case .attention(let w, let children): flatten(children, scale: scale * w, into: &out)
            case .unsupported: break
            }
        }
    }

    /// compel's `re.sub(r',(\S)', r', \1', prompt)`.
    static func spacedAfterCommas(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == ",", i + 1 < s.count, !isPythonSpace(s[i + 1]) {
                out.append(","); out.append(" "); out.append(s[i + 1]); i += 2
            } else {
                out.append(s[i]); i += 1
            }
        }
        return String(out)
    }

    /// Python's `str.isspace` for one character (`\s`, `strip()`).
    static func isPythonSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) }
}

/// A PEG reading of compel's grammar: pyparsing's MatchFirst commits to the first alternative
/// that matches, and each element skips `" \n\t\r"` before it unless the grammar says otherwise.
struct CompelParser {
    indirect enum Node { case fragment(String), attention(Double, [Node]), unsupported(String) }

    let s: [Unicode.Scalar]
    /// Results by position: nested brackets are read once each, not once per alternative.
    final class Memo { var paren: [Int: ([Node], Int)?] = [:], attention: [Int: (Node, Int)?] = [:], quoted: [Int: ([Node], Int)?] = [:] }
    let memo = Memo()
    init(_ s: [Unicode.Scalar]) { self.s = s }

    static let skipped: Set<Unicode.Scalar> = [" ", "\n", "\t", "\r"]
    static let syntactic: Set<Unicode.Scalar> = ["(", ")", "\"", ",", ".", "+", "-", "="]
    static let pythonWhitespace: Set<Unicode.Scalar> = [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"]
    static let keywordCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-".unicodeScalars)

    func skip(_ p: Int) -> Int { var p = p; while p < s.count, CompelParser.skipped.contains(s[p]) { p += 1 }; return p }
    func text(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(s[a..<b])) }
    func isDigit(_ p: Int) -> Bool { p < s.count && ("0"..."9").contains(s[p]) }

    /// `Literal(word)`, after whitespace.
    func literal(_ word: String, _ p0: Int) -> Int? {
        let p = skip(p0), w = Array(word.unicodeScalars)
        guard p + w.count <= s.count, Array(s[p..<(p + w.count)]) == w else { return nil }
        return p + w.count
    }

    /// compel's `Fragment`: `\(` `\)` `\"` become the plain characters.
    static func fragment(_ t: String) -> Node { .fragment(unescapedFragment(t)) }

    /// What `Fragment.__init__` does to its text, each time one is made (when parsed, again when
    /// flattened, and again when joined with a neighbour), so `\\(` ends as `(`.
    static func unescapedFragment(_ t: String) -> String {
        t.replacingOccurrences(of: "\\(", with: "(").replacingOccurrences(of: "\\)", with: ")")
            .replacingOccurrences(of: "\\\"", with: "\"")
    }

    /// The whole prompt: `implicit_conjunction` (or an explicit `.and()`, whatever follows it).
    mutating func parseAll() throws -> WeightedPrompt {
        if let (items, options, _) = operatorList(0, [".and", ".add"]) { return try conjunction(items, options) }
        if lora(0) != nil { throw refused("withLora()/useLora()") }
        var nodes: [Node] = [], p = 0
        let blended = operatorList(0, [".blend"])
        if let blended { p = blended.end } else { (nodes, p) = promptNodes(0) }
        while let q = lora(p) { nodes.append(.unsupported("withLora()/useLora()")); p = q }
        let end = skip(p)
        guard end == s.count else {
            throw RenderError.invalid(parameter: "prompt", reason: "compel cannot read it at character \(end + 1) ('\(text(end, min(s.count, end + 12)))'); check the brackets and quotes")
        }
        if let kind = CompelParser.firstUnsupported(nodes) { throw refused(kind) }
        if let blended { return try blend(blended.items, blended.options) }
        return .fragments(CompelPrompt.fused(nodes))
    }

    /// `prompt`: swaps, LoRAs, weights, quoted and bracketed fragments, any other word.
    func promptNodes(_ p0: Int) -> ([Node], Int) {
        var p = p0, nodes: [Node] = []
        while true {
            if let (n, q) = casSubstitute(p) { nodes.append(n); p = q; continue }
            if let q = lora(p) { nodes.append(.unsupported("withLora()/useLora()")); p = q; continue }
            if let (n, q) = attention(p) { nodes.append(n); p = q; continue }
            if let (n, q) = quoted(p) { nodes += n; p = q; continue }
            if let (n, q) = parenthesized(p) { nodes += n; p = q; continue }
            var q = p
            while q < s.count, !CompelParser.pythonWhitespace.contains(s[q]) { q += 1 }
            if q > p { nodes.append(CompelParser.fragment(text(p, q))); p = q; continue }
            while q < s.count, CompelParser.skipped.contains(s[q]) { q += 1 }
            if q > p { p = q; continue }
            return (nodes, p)
        }
    }

    /// Each item of a `.blend()`/`.and()` list flattened, refused if it holds what Kiln does not build.
    func flattenedItems(_ items: [[Node]]) throws -> [[WeightedFragment]] {
        try items.map { nodes in
            if let kind = CompelParser.firstUnsupported(nodes) { throw refused(kind) }
            return CompelPrompt.fused(nodes)
        }
    }

    /// compel's `Blend`: weights default to 1 each, a trailing `no_normalize` keeps them as given;
    /// an item that flattens to nothing or a count that differs is compel's ParsingException.
    func blend(_ items: [[Node]], _ options: [Option]) throws -> WeightedPrompt {
        var options = options, normalize = true
        if case .keyword("no_normalize")? = options.last { normalize = false; options.removeLast() }
        var weights = try numbers(options, ".blend()")
        let prompts = try flattenedItems(items)
        if weights.isEmpty { weights = Array(repeating: 1, count: prompts.count) }
        guard prompts.allSatisfy({ !$0.isEmpty }), weights.count == prompts.count else {
            throw RenderError.invalid(parameter: "prompt", reason: ".blend() has \(prompts.filter { !$0.isEmpty }.count) prompts with text and \(weights.count) weights; give one weight per prompt")
        }
        return .blend(prompts, weights: weights, normalize: normalize)
    }

    /// compel's explicit `Conjunction`: parts that flatten to nothing are dropped with their weight.
    func conjunction(_ items: [[Node]], _ options: [Option]) throws -> WeightedPrompt {
        let weights = try numbers(options, ".and()")
        guard weights.isEmpty || weights.count == items.count else {
            throw RenderError.invalid(parameter: "prompt", reason: ".and() has \(items.count) prompts and \(weights.count) weights; give one weight per prompt, or none")
        }
        guard weights.allSatisfy({ $0 == 1 }) else {
            throw RenderError.invalid(parameter: "prompt", reason: "a weighted .and() is not supported (compel's CompelForSDXL fails on it); use .and() without weights, or .blend()")
        }
        let parts = try flattenedItems(items).filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw RenderError.invalid(parameter: "prompt", reason: ".and() has no prompt with text") }
        return parts.count == 1 ? .fragments(parts[0]) : .and(parts)
    }

    func numbers(_ options: [Option], _ what: String) throws -> [Double] {
        try options.map {
            guard case .number(let n) = $0 else { throw RenderError.invalid(parameter: "prompt", reason: "\(what) takes numbers as its weights (and no_normalize last for .blend())") }
            return n
        }
    }

    func refused(_ what: String) -> RenderError {
        .invalid(parameter: "prompt", reason: "compel's \(what) is not supported by Kiln; use plain weights like (a b)1.2 or word+")
    }

    static func firstUnsupported(_ nodes: [Node]) -> String? {
        for node in nodes {
            switch node {
            case .unsupported(let kind): return kind
            case .attention(_, let children): if let k = firstUnsupported(children) { return k }
            case .fragment: continue
            }
        }
        return nil
    }

    // MARK: words

    /// `non_syntax_word`: escaped symbols, `+`/`-` inside a word, any character but whitespace and syntax.
    func nonSyntaxWord(_ p0: Int) -> (Node, Int)? {
        let start = skip(p0)
        var p = start
        while p < s.count {
            if s[p] == "\\", p + 1 < s.count, CompelParser.syntactic.contains(s[p + 1]) { p += 2; continue }
            if s[p] == "+" || s[p] == "-" {
                if p + 1 < s.count, !CompelParser.skipped.contains(s[p + 1]), !CompelParser.syntactic.contains(s[p + 1]) { p += 1; continue }
                break
            }
            if CompelParser.pythonWhitespace.contains(s[p]) || CompelParser.syntactic.contains(s[p]) { break }
            p += 1
        }
        return p > start ? (CompelParser.fragment(text(start, p)), p) : nil
    }

    /// `QuotedString('"', esc_quote='\\"')` unquoted, then read as a fragment (`parse_fragment_str`).
    func quoted(_ p0: Int) -> ([Node], Int)? {
        if let known = memo.quoted[p0] { return known }
        let result = quotedUncached(p0)
        memo.quoted[p0] = result
        return result
    }

    func quotedUncached(_ p0: Int) -> ([Node], Int)? {
        guard let (content, end) = quotedString(p0) else { return nil }
        if content.unicodeScalars.allSatisfy(CompelPrompt.isPythonSpace) { return ([.fragment("")], end) }
        let inner = CompelParser(Array(content.replacingOccurrences(of: "\"", with: "\\\"").unicodeScalars))
        let (nodes, q) = inner.fragmentIncludingCommas(0)
        guard inner.skip(q) == inner.s.count else { return nil }
        return (nodes, end)
    }

    /// The quoted string's unquoted content and where it ends: `\"` inside is kept as it is (the
    /// regex prefers it, backing off to close on its quote), `\t` `\n` `\f` `\r` and numeric
    /// escapes are converted as pyparsing's `convert_whitespace_escapes` does.
    func quotedString(_ p0: Int) -> (String, Int)? {
        let open = skip(p0)
        guard open < s.count, s[open] == "\"" else { return nil }
        var p = open + 1, lastEscapedQuote: Int?
        var close: Int?
        while p < s.count {
            if s[p] == "\\", p + 1 < s.count, s[p + 1] == "\"" { lastEscapedQuote = p; p += 2; continue }
            if s[p] == "\"" { close = p; break }
            if s[p] == "\n" || s[p] == "\r" { break }
            p += 1
        }
        if close == nil, let e = lastEscapedQuote { close = e + 1 }
        guard let close else { return nil }
        return (CompelParser.unescaped(Array(s[(open + 1)..<close])), close + 1)
    }

    static func unescaped(_ c: [Unicode.Scalar]) -> String {
        var out = String.UnicodeScalarView(), i = 0
        func hex(_ a: Int, _ n: Int) -> UInt32? {
            guard a + n <= c.count else { return nil }
            return UInt32(String(String.UnicodeScalarView(c[a..<(a + n)])), radix: 16)
        }
        while i < c.count {
            if c[i] == "\\", i + 1 < c.count {
                let n = c[i + 1]
                let ws: [Unicode.Scalar: Unicode.Scalar] = ["t": "\t", "n": "\n", "f": "\u{0C}", "r": "\r"]
                if let w = ws[n] { out.append(w); i += 2; continue }
                if n == "x", let v = hex(i + 2, 2), let u = Unicode.Scalar(v) { out.append(u); i += 4; continue }
                if n == "u", let v = hex(i + 2, 4), let u = Unicode.Scalar(v) { out.append(u); i += 6; continue }
                if i + 4 <= c.count, c[(i + 1)..<(i + 4)].allSatisfy({ ("0"..."7").contains($0) }),
                   let v = UInt32(String(String.UnicodeScalarView(c[(i + 1)..<(i + 4)])), radix: 8), let u = Unicode.Scalar(v) {
                    out.append(u); i += 4; continue
                }
                if n == "0" { out.append("\u{0}"); i += 2; continue }
            }
            out.append(c[i]); i += 1
        }
        return String(out)
    }

    /// `(` fragment_including_commas_or_periods `)`.
    func parenthesized(_ p0: Int) -> ([Node], Int)? {
        if let known = memo.paren[p0] { return known }
        var result: ([Node], Int)?
        defer { memo.paren[p0] = result }
        guard let a = literal("(", p0) else { return nil }
        let (nodes, b) = fragmentIncludingCommas(a)
        guard let c = literal(")", b) else { return nil }
        result = (nodes, c)
        return result
    }

    /// `fragment_including_commas_or_periods` (`commas: false`: `fragment_excluding_commas`).
    func fragmentIncludingCommas(_ p0: Int, commas: Bool = true) -> ([Node], Int) {
        var p = p0, nodes: [Node] = []
        while true {
            if let q = lora(p) { nodes.append(.unsupported("withLora()/useLora()")); p = q; continue }
            if let (n, q) = attention(p) { nodes.append(n); p = q; continue }
            if let (n, q) = casSubstitute(p) { nodes.append(n); p = q; continue }
            if let (n, q) = parenthesized(p) { nodes += n; p = q; continue }
            if let (n, q) = quoted(p) { nodes += n; p = q; continue }
            if let (n, q) = nonSyntaxWord(p) { nodes.append(n); p = q; continue }
            if commas {
                let q = skip(p)
                if q < s.count, s[q] == "," || s[q] == "." { nodes.append(.fragment(String(s[q]))); p = q + 1; continue }
            }
            return (nodes, p)
        }
    }

    /// `potential_operator_target`: quoted, parenthesized, or a plain word.
    func target(_ p: Int) -> ([Node], Int)? {
        if let r = quoted(p) { return r }
        if let r = parenthesized(p) { return r }
        if let (n, q) = nonSyntaxWord(p) { return ([n], q) }
        return nil
    }

    // MARK: operators

    /// `attention_weight_operator`: `Word('+') | Word('-') | number`, the first that matches.
    func weightOperator(_ p0: Int) -> (Double, Int)? {
        let p = skip(p0)
        guard p < s.count else { return nil }
        if s[p] == "+" || s[p] == "-" {
            var q = p
            while q < s.count, s[q] == s[p] { q += 1 }
            return (pow(s[p] == "+" ? 1.1 : 0.9, Double(q - p)), q)
        }
        return number(p)
    }

    /// pyparsing_common.real (`[+-]?(\d+\.\d*|\.\d+)`), else an integer (`-?\d+`).
    func number(_ p0: Int) -> (Double, Int)? {
        var p = skip(p0)
        let start = p
        if p < s.count, s[p] == "+" || s[p] == "-" { p += 1 }
        var q = p
        while isDigit(q) { q += 1 }
        let intDigits = q - p
        if q < s.count, s[q] == "." {
            var r = q + 1
            while isDigit(r) { r += 1 }
            if intDigits > 0 || r > q + 1, let v = Double(text(start, r).replacingOccurrences(of: "+", with: "")) { return (v, r) }
        }
        // The integer form takes only '-' as a sign.
        if intDigits > 0, start == p || s[start] == "-", let v = Double(text(start, q)) { return (v, q) }
        return nil
    }

    /// `attention_explicit | attention_implicit`.
    func attention(_ p: Int) -> (Node, Int)? {
        if let known = memo.attention[p] { return known }
        let result = attentionUncached(p)
        memo.attention[p] = result
        return result
    }

    func attentionUncached(_ p: Int) -> (Node, Int)? {
        if let (children, a) = target(p), let b = literal(".attend", a), let c = literal("(", b),
           let (w, d) = weightOperator(c), let e = literal(")", d) {
            return (.attention(w, children), e)
        }
        let notWhite = { (q: Int) in q >= s.count || !CompelParser.skipped.contains(s[q]) }
        if let (children, a) = quoted(p) ?? parenthesized(p), notWhite(a), let (w, b) = weightOperator(a) {
            return (.attention(w, children), b)
        }
        if quoted(p) == nil, parenthesized(p) == nil, let (word, a) = nonSyntaxWord(p), notWhite(a), a < s.count, s[a] == "+" || s[a] == "-" {
            var b = a
            while b < s.count, s[b] == s[a] { b += 1 }
            return (.attention(pow(s[a] == "+" ? 1.1 : 0.9, Double(b - a)), [word]), b)
        }
        return nil
    }

    /// `.swap(...)`: parsed to know where it ends, then refused.
    func casSubstitute(_ p: Int) -> (Node, Int)? {
        guard let (_, a) = target(p), let b = literal(".swap", a), let c = literal("(", b) else { return nil }
        var (_, d) = fragmentIncludingCommas(c, commas: false)
        if let e = literal(",", d) { d = options(e).1 }
        guard let f = literal(")", d) else { return nil }
        return (.unsupported(".swap()"), f)
    }

    /// `(useLora|withLora)(name[, number])`.
    func lora(_ p: Int) -> Int? {
        guard let a = literal("useLora", p) ?? literal("withLora", p), let b = literal("(", a), let c = keyword(b) else { return nil }
        var d = c
        if let e = literal(",", c), let (_, f) = number(e) { d = f }
        return literal(")", d)
    }

    func keyword(_ p0: Int) -> Int? {
        let p = skip(p0)
        var q = p
        while q < s.count, CompelParser.keywordCharacters.contains(s[q]) { q += 1 }
        return q > p ? q : nil
    }

    enum Option: Equatable { case number(Double), keyword(String), pair }

    /// An operator's options, `key=value, 0.3, flag` (possibly none).
    func options(_ p: Int) -> ([Option], Int) {
        func option(_ p: Int) -> (Option, Int)? {
            if let a = keyword(p), let b = literal("=", a) {
                if let (_, c) = number(b) { return (.pair, c) }
                if let c = keyword(b) { return (.pair, c) }
            }
            if let (n, a) = number(p) { return (.number(n), a) }
            if let a = keyword(p) { return (.keyword(text(skip(p), a)), a) }
            return nil
        }
        guard let (first, end) = option(p) else { return ([], p) }
        var values = [first], q = end
        while let a = literal(",", q), let (o, b) = option(a) { values.append(o); q = b }
        return (values, q)
    }

    /// `( item, ... ).OPERATOR( options )` for `.blend` and `.and`/`.add`: each item a target or
    /// a quoted prompt.
    func operatorList(_ p: Int, _ operators: [String]) -> (items: [[Node]], options: [Option], end: Int)? {
        guard var q = literal("(", p) else { return nil }
        func item(_ p: Int) -> ([Node], Int)? { target(p) ?? quotedPrompt(p) }
        guard let (first, firstEnd) = item(q) else { return nil }
        var items = [first]
        q = firstEnd
        while let a = literal(",", q), let (next, b) = item(a) { items.append(next); q = b }
        guard let r = literal(")", q), let o = operators.lazy.compactMap({ self.literal($0, r) }).first,
              let t = literal("(", o) else { return nil }
        let (values, u) = options(t)
        guard let end = literal(")", u) else { return nil }
        return (items, values, end)
    }

    /// `quoted_prompt`: a quoted string read with the whole-prompt grammar.
    func quotedPrompt(_ p: Int) -> ([Node], Int)? {
        guard let (content, end) = quotedString(p) else { return nil }
        if content.unicodeScalars.allSatisfy(CompelPrompt.isPythonSpace) { return ([.fragment("")], end) }
        let inner = CompelParser(Array(content.replacingOccurrences(of: "\"", with: "\\\"").unicodeScalars))
        let (nodes, q) = inner.promptNodes(0)
        guard inner.skip(q) == inner.s.count else { return nil }
        return (nodes, end)
    }

}
