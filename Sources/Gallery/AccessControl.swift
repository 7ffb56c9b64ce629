import Foundation
import HTTPTypes
import Hummingbird

/// Who may use the gallery, checked before every request (pages, images, assets, unknown paths
/// alike). With a token, each request must carry it: an `Authorization: Bearer TOKEN` header
/// (the scheme in any case),
/// a `token` query parameter (answered with an HttpOnly, SameSite=Strict `kiln_token` cookie so
/// the pages' own links and images work), or that cookie. Without one (loopback only), the
/// `Host` header must name this machine, so a web page elsewhere cannot reach the server by
/// pointing its own domain at 127.0.0.1 (DNS rebinding).
struct AccessControl: Sendable {
    let token: String?
    /// The secret every action form carries (random per server process).
    let csrf: String

    static let cookieName = "kiln_token"

    enum Verdict: Equatable { case allowed(setCookie: Bool), refused(status: HTTPStatus, why: String) }

    func check(_ request: Request) -> Verdict {
        guard let token else {
            if let authority = request.head.authority, !GalleryOptions.isLoopback(AccessControl.hostPart(authority)) {
                return .refused(status: .misdirected, why: "this server answers only requests for this machine (127.0.0.1, localhost)")
            }
            return .allowed(setCookie: false)
        }
        if let header = request.headers[.authorization], let given = AccessControl.bearer(header), AccessControl.same(given, token) {
            return .allowed(setCookie: false)
        }
        if let given = FormData(request.uri.query)["token"], AccessControl.same(given, token) { return .allowed(setCookie: true) }
        if let cookie = request.cookies[AccessControl.cookieName]?.value, AccessControl.same(cookie, token) { return .allowed(setCookie: false) }
        return .refused(status: .unauthorized, why: "this gallery needs its token: open /?token=TOKEN once, or send Authorization: Bearer TOKEN")
    }

    /// The CSRF check of a POST: its form's `csrf` field (or an `X-CSRF-Token` header) equals the
    /// server's, and a cross-site or opaque (`null`) `Origin`, when the browser sends one, is refused.
    func checkAction(_ request: Request, form: FormData) -> String? {
        if let origin = request.headers[.origin] {
            // `null` is an opaque origin (a sandboxed frame, a file, a data: URL): never this gallery's page.
            if origin.trimmingCharacters(in: .whitespaces).lowercased() == "null" {
                return "refused: the request came from an opaque origin (Origin: null); use the buttons on the gallery's own pages"
            }
            if let authority = request.head.authority, URLComponents(string: origin).map({ AccessControl.authority(of: $0) }) != authority {
                return "refused: the request came from another site (\(origin))"
            }
        }
        let given = form["csrf"] ?? AccessControl.csrfHeader.flatMap { request.headers[$0] }
        guard let given, AccessControl.same(given, csrf) else { return "refused: the form's CSRF token is missing or wrong; reload the page and try again" }
        return nil
    }

    static let csrfHeader = HTTPField.Name("X-CSRF-Token")

    /// The credentials of an `Authorization: Bearer TOKEN` header; the scheme's case does not
    /// matter (RFC 7235), spaces around the token do not count. Nil for any other scheme.
    static func bearer(_ header: String) -> String? {
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// A fresh random secret: 32 bytes as hex.
    static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Equal strings, compared in time that does not depend on where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// "host" of "host:port" or "[v6]:port".
    static func hostPart(_ authority: String) -> String {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") { return String(authority[authority.index(after: authority.startIndex)..<close]) }
        if let colon = authority.lastIndex(of: ":"), authority.filter({ $0 == ":" }).count == 1 { return String(authority[..<colon]) }
        return authority
    }

    /// "host[:port]" of an origin URL.
    static func authority(of url: URLComponents) -> String {
        let host = url.host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? ""
        return url.port.map { "\(host):\($0)" } ?? host
    }
}
