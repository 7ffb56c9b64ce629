import Foundation

/// Why a prompt template, its wildcards or a prompt file cannot be used; one line.
public struct PromptTemplateError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A prompt template in dynamicprompts' syntax (0.31): literal text, variants `{a|b}` (nested,
/// bounds `{2$$a|b|c}`, `{1-2$$ and $$a|b|c}`, weights `{0.5::a|b}`) and wildcards `__name__`.
/// Parsed as dynamicprompts' grammar parses it: each option's leading whitespace is dropped, its
/// trailing whitespace kept. Variables `${...}`, wrap commands `%{...}`, comments and the `~`/`@`
/// samplers are refused in one line.
public indirect enum PromptTemplate: Equatable, Sendable {
    case literal(String)
    case sequence([PromptTemplate])
    case variant(Variant)
    /// A wildcard's (possibly glob) name, as written between the `__`s.
    case wildcard(name: String, marker: Bool)

    public struct Variant: Equatable, Sendable {
        public var options: [Option]
        public var minBound: Int
        public var maxBound: Int
        public var separator: String
        /// `{!...}`: dynamicprompts' explicit combinatorial marker (kept so equality matches it).
        public var marker: Bool
    }

    public struct Option: Equatable, Sendable {
        public var weight: Double
        public var node: PromptTemplate
        /// dynamicprompts compares options by their command alone, not their weight.
        public static func == (a: Option, b: Option) -> Bool { a.node == b.node }
    }

    /// Longest template read, in bytes.
    public static let maxBytes = 64 << 10
    /// Deepest nesting of variants.
    public static let maxDepth = 32

    /// Parses `text`; throws a `PromptTemplateError` naming what is wrong and where.
    public static func parse(_ text: String) throws -> PromptTemplate {
        guard text.utf8.count <= maxBytes else {
            throw PromptTemplateError("template is \(text.utf8.count) bytes, over the limit of \(maxBytes)")
        }
        var parser = Parser(s: Array(text.unicodeScalars))
        let node = try parser.chunks(inVariant: false)
        if parser.i < parser.s.count {
            throw parser.error("unexpected '\(parser.s[parser.i])'")
        }
        return node
    }

    struct Parser {
        let s: [Unicode.Scalar]
        var i = 0
        var depth = 0

        func error(_ what: String) -> PromptTemplateError {
            PromptTemplateError("template: \(what) at character \(i + 1)")
        }
        func at(_ text: String, _ p: Int? = nil) -> Bool {
            var p = p ?? i
            for c in text.unicodeScalars {
                guard p < s.count, s[p] == c else { return false }
                p += 1
            }
            return true
        }
        static func isWS(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" }
        mutating func skipWS() { while i < s.count, Parser.isWS(s[i]) { i += 1 } }
        func digits(from p: Int) -> Int {
            var q = p
            while q < s.count, ("0"..."9").contains(s[q]) { q += 1 }
            return q - p
        }

        /// A run of chunks: up to the end (top level) or a `|` / `}` (inside a variant).
        mutating func chunks(inVariant: Bool) throws -> PromptTemplate {
            var nodes: [PromptTemplate] = []
            var literal = String.UnicodeScalarView()
            func flush() {
                if !literal.isEmpty { nodes.append(.literal(String(literal))); literal = String.UnicodeScalarView() }
            }
            while i < s.count {
                let c = s[i]
                if c == "{" {
                    flush(); nodes.append(try variant())
                } else if at("__") {
                    flush(); nodes.append(try wildcard())
                } else if c == "#" || at("//") || at("/*") {
                    throw error("a comment ('#', '//' or '/*'), which Kiln's templates do not take")
                } else if c == "$" {
                    if inVariant && !at("${") { break }
                    throw error(at("${") ? "a variable (${...}), which Kiln's templates do not take" : "a '$' outside a {N$$...} bound")
                } else if c == "%" {
                    throw error("a '%' (dynamicprompts reads %{...} as a wrap command, which Kiln does not take)")
                } else if inVariant && (c == "|" || c == "}") {
                    break
                } else {
                    literal.append(c); i += 1
                }
            }
            flush()
            return nodes.count == 1 ? nodes[0] : .sequence(nodes)
        }

        /// `{[!][BOUND$$[SEP$$]]option|option...}`.
        mutating func variant() throws -> PromptTemplate {
            let start = i
            depth += 1
            defer { depth -= 1 }
            guard depth <= PromptTemplate.maxDepth else { throw error("variants nested more than \(PromptTemplate.maxDepth) deep") }
            i += 1
            skipWS()
            var marker = false
            if i < s.count, s[i] == "~" || s[i] == "@" {
                throw error("the '\(s[i])' sampler (Kiln's templates expand every variant combinatorially, or draw with {random: ...})")
            }
            if i < s.count, s[i] == "!" { marker = true; i += 1 }
            let bound = try boundExpression()
            skipWS()
            var options: [Option] = []
            while true {
                skipWS()
                let weight = try self.weight()
                options.append(Option(weight: weight ?? 1, node: try chunks(inVariant: true)))
                skipWS()
                guard i < s.count else {
                    i = start
                    throw error("a '{' that is never closed")
                }
                if s[i] == "|" { i += 1; continue }
                if s[i] == "}" { i += 1; break }
                throw error("a '$' inside {...} that is no bound (write bounds as {2$$a|b} or {1-2$$ and $$a|b})")
            }
            // dynamicprompts' _parse_bound_expr: no upper bound means every option.
            var lower = 1, upper = 1, separator = ","
            if let bound {
                lower = bound.lower ?? 1
                upper = bound.upper ?? options.count
                if let exact = bound.exact { lower = exact; upper = exact }
                separator = bound.separator
            }
            // VariantCommand.__post_init__: sorted, the lower bound at least 0.
            let (lo, hi) = (max(0, min(lower, upper)), max(lower, upper))
            return .variant(Variant(options: options, minBound: lo, maxBound: hi, separator: separator, marker: marker))
        }

        struct Bound { var exact: Int?; var lower: Int?; var upper: Int?; var separator: String }

        /// `N$$`, `N-$$`, `-N$$`, `N-M$$`, each optionally followed by `SEP$$`; nil (nothing read)
        /// when what follows is no bound.
        mutating func boundExpression() throws -> Bound? {
            var p = i
            func number() throws -> Int? {
                let n = digits(from: p)
                guard n > 0 else { return nil }
                let text = String(String.UnicodeScalarView(s[p..<(p + n)]))
                p += n
                guard let v = Int(text), v <= 1_000_000 else { throw error("a bound of \(text), over 1000000") }
                return v
            }
            var bound = Bound(separator: ",")
            if let a = try number() {
                if p < s.count, s[p] == "-" {
                    p += 1
                    bound.lower = a
                    bound.upper = try number()
                } else {
                    bound.exact = a
                }
            } else if p < s.count, s[p] == "-" {
                p += 1
                guard let b = try number() else { return nil }
                bound.upper = b
            } else {
                return nil
            }
            guard at("$$", p) else { return nil }
            p += 2
            // The separator: printable ASCII or spaces, no '$', '{' or '}', then "$$".
            var q = p
            while q < s.count, (s[q].value >= 32 && s[q].value <= 126), s[q] != "$", s[q] != "{", s[q] != "}" { q += 1 }
            if q > p, at("$$", q) {
                bound.separator = String(String.UnicodeScalarView(s[p..<q]))
                p = q + 2
            }
            i = p
            return bound
        }

        /// `REAL::` or `INT::` at an option's start (pyparsing's common.real | common.integer).
        mutating func weight() throws -> Double? {
            var p = i
            if p < s.count, s[p] == "+" || s[p] == "-" { p += 1 }
            let whole = digits(from: p)
            var q = p + whole
            var isReal = false
            if q < s.count, s[q] == "." {
                let frac = digits(from: q + 1)
                if whole > 0 || frac > 0 { isReal = true; q += 1 + frac }
            }
            if !isReal {
                // An integer weight takes no sign.
                guard whole > 0, p == i else { return nil }
            }
            guard at("::", q) else { return nil }
            let text = String(String.UnicodeScalarView(s[i..<q]))
            i = q + 2
            return Double(text) ?? 1
        }

        /// `__[!]name__`.
        mutating func wildcard() throws -> PromptTemplate {
            let start = i
            i += 2
            var marker = false
            if i < s.count, s[i] == "~" || s[i] == "@" {
                throw error("the '\(s[i])' sampler on a wildcard (Kiln expands wildcards combinatorially, or draws with {random: ...})")
            }
            if i < s.count, s[i] == "!" { marker = true; i += 1 }
            var name = String.UnicodeScalarView()
            while i < s.count, !at("__") {
                let c = s[i]
                if "{}$%#()|\n\r".unicodeScalars.contains(c) {
                    i = start
                    throw error("a wildcard name with '\(c.escaped(asASCII: true))' in it (write wildcards as __name__, a literal '__' cannot appear in a template)")
                }
                name.append(c); i += 1
            }
            guard i < s.count, !name.isEmpty else {
                i = start
                throw error("a '__' that starts no wildcard (write wildcards as __name__; a literal '__' cannot appear in a template)")
            }
            i += 2
            return .wildcard(name: String(name), marker: marker)
        }
    }
}
