import Foundation

/// `application/x-www-form-urlencoded` pairs, from a query string or a POST body: `+` is a
/// space, `%XX` a byte of UTF-8; pairs that do not decode are dropped; the first value of a key
/// wins; at most `maxPairs` pairs are read.
struct FormData: Sendable {
    private(set) var values: [String: String] = [:]
    static let maxPairs = 64

    init(_ encoded: String?) {
        guard let encoded else { return }
        for pair in encoded.split(separator: "&", maxSplits: FormData.maxPairs, omittingEmptySubsequences: true).prefix(FormData.maxPairs) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = FormData.decode(parts[0]), values[key] == nil,
                  let value = parts.count > 1 ? FormData.decode(parts[1]) : "" else { continue }
            values[key] = value
        }
    }

    static func decode(_ part: Substring) -> String? {
        part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    subscript(_ key: String) -> String? { values[key] }

    /// The value of `key` as a whole number (digits only, optionally signed), nil otherwise.
    func integer(_ key: String) -> Int64? { values[key].flatMap(Identifier.integer) }
}

/// Ids as routes take them: decimal digits only, positive, at most Int64.max (19 digits).
/// Anything else (a path, `..`, a sign, an encoded slash, a number too large) is no id, and the
/// route answers 404.
enum Identifier {
    static func parse(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.count <= 19, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int64(text), n > 0 else { return nil }
        return n
    }

    static func integer(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.hasPrefix("-") ? t.dropFirst() : Substring(t)
        guard !digits.isEmpty, digits.count <= 18, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int64(t)
    }
}
