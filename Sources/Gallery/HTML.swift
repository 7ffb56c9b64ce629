import Foundation

/// HTML text built from escaped parts. Every value that comes from the queue (prompts, paths,
/// errors, provenance) goes through `HTML.text` or `HTML.attribute`; only the page templates'
/// own literals are written raw.
struct HTML: Sendable, CustomStringConvertible {
    private(set) var raw: String

    /// Markup written by the gallery itself (never a queue value).
    init(raw: String) { self.raw = raw }

    var description: String { raw }

    /// `value` escaped for text content: & < > " ' as entities.
    static func text(_ value: String) -> HTML { HTML(raw: escape(value)) }

    /// `value` escaped for a double-quoted attribute.
    static func attribute(_ value: String) -> String { escape(value) }

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\0": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func + (lhs: HTML, rhs: HTML) -> HTML { HTML(raw: lhs.raw + rhs.raw) }
    static func += (lhs: inout HTML, rhs: HTML) { lhs.raw += rhs.raw }

    static func join(_ parts: [HTML], separator: String = "") -> HTML { HTML(raw: parts.map(\.raw).joined(separator: separator)) }
}

/// Builds markup with values escaped: `"<td>\(value)</td>"` escapes `value` as text, while
/// `\(html)` inserts markup already built.
extension HTML: ExpressibleByStringInterpolation {
    init(stringLiteral value: String) { raw = value }

    init(stringInterpolation: Interpolation) { raw = stringInterpolation.raw }

    struct Interpolation: StringInterpolationProtocol {
        var raw = ""
        init(literalCapacity: Int, interpolationCount: Int) { raw.reserveCapacity(literalCapacity * 2) }
        mutating func appendLiteral(_ literal: String) { raw += literal }
        /// A value: escaped (text and attributes alike; attributes are always double-quoted).
        mutating func appendInterpolation(_ value: String) { raw += HTML.escape(value) }
        mutating func appendInterpolation(_ value: String?) { raw += HTML.escape(value ?? "") }
        mutating func appendInterpolation<N: BinaryInteger>(_ value: N) { raw += String(value) }
        mutating func appendInterpolation(_ html: HTML) { raw += html.raw }
        mutating func appendInterpolation(_ parts: [HTML]) { raw += parts.map(\.raw).joined() }
    }
}

/// Links and query strings: paths are made of ids only, query values are percent-encoded.
enum Link {
    static func query(_ items: [(String, String?)]) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let parts = items.compactMap { key, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return key + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }
}
