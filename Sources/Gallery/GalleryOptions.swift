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
    /// Folders whose PNGs (outputs written by `kiln work --output-folder`) may be served; a PNG
    /// written anywhere else is refused. Outputs kept in the database need none.
    public var outputFolders: [String] = []
    /// Seconds a connection may wait for its next request before it is closed.
    public var idleTimeout: Double = 60
    /// Seconds a request may take to arrive in full (headers and body) from its first byte; a
    /// slower client is cut off.
    public var requestTimeout: Double = 15
    /// Connections open at once; one more is answered 503 and closed at once.
    public var maxConnections: Int = GalleryOptions.defaultMaxConnections

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

    /// 256, or fewer when the process may open fewer than 256 + 64 files (the queue, the images
    /// and the listening socket need some).
    public static var defaultMaxConnections: Int {
        var limit = rlimit()
        #if os(Linux)
        let files = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let files = RLIMIT_NOFILE
        #endif
        guard getrlimit(files, &limit) == 0 else { return 256 }
        return Int(max(8, min(256, Int64(clamping: limit.rlim_cur) - 64)))
    }

    /// Seconds a timeout may be: more than 0, at most a day.
    static let timeoutRange = 0.001...86_400.0
    static let connectionRange = 1...100_000

    /// Refuses what would expose the queue: another host without a token, a short token, a bad
    /// port; and absurd limits or output folders that are no folders.
    public func validate() throws {
        guard (0...65_535).contains(port) else { throw GalleryError.badPort(port) }
        guard !host.isEmpty else { throw GalleryError.badHost(host) }
        for (name, value) in [("--idle-timeout", idleTimeout), ("--request-timeout", requestTimeout)]
        where !(value.isFinite && GalleryOptions.timeoutRange.contains(value)) {
            throw GalleryError.badLimit(name: name, value: "\(value)", allowed: "seconds more than 0, at most 86400")
        }
        guard GalleryOptions.connectionRange.contains(maxConnections) else {
            throw GalleryError.badLimit(name: "--max-connections", value: "\(maxConnections)", allowed: "between 1 and 100000")
        }
        for folder in outputFolders {
            var isFolder: ObjCBool = false
            guard !folder.isEmpty, FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue,
                  StoredImages.realPath(folder) != nil else { throw GalleryError.notAFolder(folder) }
        }
        if let token {
            guard token.count >= GalleryOptions.minimumTokenLength, token.allSatisfy(GalleryOptions.tokenCharacters.contains) else {
                throw GalleryError.weakToken
            }
        } else if !GalleryOptions.isLoopback(host) {
            throw GalleryError.tokenRequired(host: host)
        }
    }
}
