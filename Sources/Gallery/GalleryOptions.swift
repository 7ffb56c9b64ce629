import Foundation

/// How `kiln serve` runs: where it listens, the token every request must carry (required off
/// loopback), whether the action buttons (cancel, retry, pause/resume) work, and the bounds of
/// its pages and caches.
public struct GalleryOptions: Sendable {
    public var host: String
    public var port: Int
    /// The shared secret: an `Authorization: Bearer TOKEN` header, a `token=TOKEN` query
    /// parameter (which also sets the `kiln_token` cookie) or that cookie.
    public var token: String?
    /// POST /jobs/ID/cancel, /jobs/ID/retry and /sweeps/ID/pause write to the queue; otherwise
    /// they answer 403 and nothing is written.
    public var allowActions: Bool
    /// Longest side of a thumbnail, in pixels.
    public var thumbnailSide: Int = 256
    /// Bytes of thumbnail PNGs kept in memory.
    public var thumbnailCacheBytes: Int = 64 << 20
    /// Seconds between two updates of the live queue page.
    public var eventInterval: Double = 2
    /// Seconds one event stream stays open before the browser reconnects (0: one event).
    public var eventStreamSeconds: Double = 300
    /// Images per page of a sweep's grid when the request does not say (at most `PageRequest.maxLimit`).
    public var gridPageSize: Int = 100

    public init(host: String = "127.0.0.1", port: Int = 8080, token: String? = nil, allowActions: Bool = false) {
        self.host = host
        self.port = port
        self.token = token
        self.allowActions = allowActions
    }

    /// Shortest token accepted.
    public static let minimumTokenLength = 16

    /// Characters a token may hold: letters, digits and `-._~+/=` (safe in a header, a URL and a cookie).
    static let tokenCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")

    /// Whether `host` is this machine only: 127.0.0.0/8, ::1 or localhost.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Refuses what would expose the queue: another host without a token, a short token, a bad port.
    public func validate() throws {
        guard (0...65_535).contains(port) else { throw GalleryError.badPort(port) }
        guard !host.isEmpty else { throw GalleryError.badHost(host) }
        if let token {
            guard token.count >= GalleryOptions.minimumTokenLength, token.allSatisfy(GalleryOptions.tokenCharacters.contains) else {
                throw GalleryError.weakToken
            }
        } else if !GalleryOptions.isLoopback(host) {
            throw GalleryError.tokenRequired(host: host)
        }
    }
}
