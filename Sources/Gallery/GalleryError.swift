import Foundation

/// Why `kiln serve` cannot start, one line each, saying what to do.
public enum GalleryError: Error, CustomStringConvertible, Equatable {
    case tokenRequired(host: String)
    case weakToken
    case badPort(Int)
    case badHost(String)
    case badLimit(name: String, value: String, allowed: String)
    case notAFolder(String)

    public var description: String {
        switch self {
        case .tokenRequired(let host):
            return "--host \(host) is reachable from other machines: give --token TOKEN (or set KILN_TOKEN), at least \(GalleryOptions.minimumTokenLength) characters, e.g. from `openssl rand -hex 16`"
        case .weakToken:
            return "the token must be at least \(GalleryOptions.minimumTokenLength) characters of letters, digits and -._~+/= (e.g. `openssl rand -hex 16`)"
        case .badPort(let port): return "--port must be between 0 and 65535, not \(port)"
        case .badHost(let host): return "--host '\(host)' is not a host name or address"
        case let .badLimit(name, value, allowed): return "\(name) must be \(allowed), not \(value)"
        case .notAFolder(let folder): return "--output-folder '\(folder)' is not a folder: give the folder kiln work wrote its PNGs to"
        }
    }
}

/// A request the gallery answers with an error page: its status and one line saying why.
struct PageError: Error {
    let status: HTTPStatus
    let message: String

    static func notFound(_ what: String) -> PageError { PageError(status: .notFound, message: what) }
    static func forbidden(_ why: String) -> PageError { PageError(status: .forbidden, message: why) }
    static func badRequest(_ why: String) -> PageError { PageError(status: .badRequest, message: why) }
}

/// The statuses the gallery answers with (kept apart from HTTPTypes so pages need not import it).
enum HTTPStatus: Int, Sendable {
    case ok = 200, seeOther = 303, notModified = 304, badRequest = 400, unauthorized = 401, forbidden = 403, notFound = 404
    case methodNotAllowed = 405, contentTooLarge = 413, misdirected = 421, internalError = 500
}
