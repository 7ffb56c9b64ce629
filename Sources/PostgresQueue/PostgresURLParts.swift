import Foundation
import RenderQueue

/// The pieces of a `postgresql://` URL, percent-decoded, as libpq's URI parser splits them
/// (`conninfo_uri_parse`): `user:password@host:port/dbname?key=value&...`. One difference makes
/// unencoded passwords work: the user information ends at the last `@`, so a password may hold
/// `@`, `/`, `?` or `:` (a database name or parameter holding `@` must then be written `%40`).
/// Errors never quote the URL, which may hold a password.
struct PostgresURLParts {
    var user: String?
    var password: String?
    var host: String?
    var port: String?
    var database: String?
    var query: [String: String] = [:]

    /// The parameters Kiln honours; libpq knows more, which are refused rather than ignored.
    static let parameters: Set<String> = ["host", "hostaddr", "port", "dbname", "user", "password", "sslmode", "sslrootcert",
                                          "connect_timeout", "application_name"]

    init(_ url: String) throws {
        guard let scheme = url.range(of: "://"),
              ["postgresql", "postgres"].contains(url[..<scheme.lowerBound].lowercased()) else {
            throw QueueError.badLocation("--db: a PostgreSQL URL starts with postgresql:// or postgres://")
        }
        var rest = Substring(url[scheme.upperBound...])
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                user = try PostgresURLParts.decode(info[..<colon], "user name")
                password = try PostgresURLParts.decode(info[info.index(after: colon)...], "password")
            } else {
                user = try PostgresURLParts.decode(info, "user name")
            }
        }
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&", omittingEmptySubsequences: true) {
                guard let eq = pair.firstIndex(of: "=") else {
                    throw QueueError.badLocation("--db: a URL parameter without a value; write key=value")
                }
                let key = try PostgresURLParts.decode(pair[..<eq], "parameter name")
                guard PostgresURLParts.parameters.contains(key) else {
                    let known = PostgresURLParts.parameters.sorted().joined(separator: ", ")
                    throw QueueError.badLocation("--db: the URL parameter '\(key)' is not supported (known: \(known))")
                }
                query[key] = try PostgresURLParts.decode(pair[pair.index(after: eq)...], "parameter \(key)")
            }
            rest = rest[..<q]
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let name = rest[rest.index(after: slash)...]
            if !name.isEmpty { database = try PostgresURLParts.decode(name, "database name") }
        }
        try splitHostPort(authority)
        for value in [user, database, query["user"], query["dbname"]] where value?.isEmpty == true {
            throw QueueError.badLocation("--db: the PostgreSQL URL has an empty user or database name")
        }
    }

    /// `host`, `host:port`, `[v6]:port` or `:port`.
    private mutating func splitHostPort(_ authority: Substring) throws {
        guard !authority.isEmpty else { return }
        if authority.contains(",") {
            throw QueueError.badLocation("--db: several hosts in one URL are not supported; give one host")
        }
        var hostPart = authority
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw QueueError.badLocation("--db: an IPv6 host in the URL lacks its closing ]")
            }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { port = String(after.dropFirst()) } else if !after.isEmpty {
                throw QueueError.badLocation("--db: unexpected text after the IPv6 host in the URL")
            }
            return
        }
        if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            port = String(authority[authority.index(after: colon)...])
        }
        if !hostPart.isEmpty { host = try PostgresURLParts.decode(hostPart, "host") }
    }

    /// Percent-decodes one component; `what` names it in the error (never its text).
    static func decode(_ text: Substring, _ what: String) throws -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var i = text.utf8.startIndex
        let utf8 = text.utf8
        while i < utf8.endIndex {
            let byte = utf8[i]
            if byte == UInt8(ascii: "%") {
                let h1 = utf8.index(after: i)
                guard h1 < utf8.endIndex, utf8.index(after: h1) < utf8.endIndex,
                      let hi = hexValue(utf8[h1]), let lo = hexValue(utf8[utf8.index(after: h1)]) else {
                    throw QueueError.badLocation("--db: the URL's \(what) has a % not followed by two hex digits; write % as %25")
                }
                bytes.append(hi << 4 | lo)
                i = utf8.index(h1, offsetBy: 2)
            } else {
                bytes.append(byte)
                i = utf8.index(after: i)
            }
        }
        guard let decoded = String(bytes: bytes, encoding: .utf8) else {
            throw QueueError.badLocation("--db: the URL's \(what) does not decode to UTF-8")
        }
        return decoded
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Percent-encodes what would change a URL's meaning in a user, host or database name.
    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
