import Foundation
import Imaging
import RenderQueue

/// Thumbnails made on demand from the stored PNG (or the checked file it was written to, read
/// through `StoredImages`): decoded with the input limits, resized with PIL's LANCZOS filter
/// (never nearest-neighbour) so that the longer side is `side` pixels (smaller images are kept
/// as they are), encoded as PNG, and kept in memory up to `maxBytes`, the least recently used
/// dropped first. Keyed by output id and the image's SHA-256, so a changed image is never
/// served from an old entry.
final class ThumbnailCache: @unchecked Sendable {
    let side: Int
    let maxBytes: Int
    private let lock = NSLock()
    private var entries: [String: (data: Data, used: UInt64)] = [:]
    private var bytes = 0
    private var clock: UInt64 = 0

    init(side: Int, maxBytes: Int) {
        self.side = max(16, side)
        self.maxBytes = max(0, maxBytes)
    }

    static func key(_ id: Int64, _ sha256: String) -> String { "\(id)-\(sha256)" }

    /// The cached thumbnail, marked as just used.
    func cached(_ key: String) -> Data? {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = entries[key] else { return nil }
        clock += 1
        entries[key] = (entry.data, clock)
        return entry.data
    }

    func store(_ key: String, _ data: Data) {
        guard data.count <= maxBytes else { return }
        lock.lock()
        defer { lock.unlock() }
        if let old = entries[key] { bytes -= old.data.count }
        clock += 1
        entries[key] = (data, clock)
        bytes += data.count
        while bytes > maxBytes, let oldest = entries.min(by: { $0.value.used < $1.value.used }) {
            bytes -= oldest.value.data.count
            entries[oldest.key] = nil
        }
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    /// The thumbnail PNG of an image's PNG bytes.
    func make(from png: Data, name: String) throws -> Data {
        let image = try ImageFile.read(data: png, name: name)
        let thumb = image.width <= side && image.height <= side ? image : ContactSheet.fill(image, width: side, height: side)
        return try PNGFile.encode(thumb)
    }
}
