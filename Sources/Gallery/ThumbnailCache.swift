import Foundation
import Imaging
import RenderQueue
import Synchronization

/// Thumbnails made on demand from the stored PNG (or the checked file it was written to, read
/// through `StoredImages`): decoded with the input limits, resized with PIL's LANCZOS filter
/// (never nearest-neighbour) so that the longer side is `side` pixels (smaller images are kept
/// as they are), encoded as PNG, and kept in memory up to `maxBytes`, the least recently used
/// dropped first. Keyed by output id and the image's SHA-256, so a changed image is never
/// served from an old entry.
final class ThumbnailCache: Sendable {
    let side: Int
    let maxBytes: Int
    private let state = Mutex(State())

    /// The entries with their last use, their total size, and the use counter.
    private struct State {
        var entries: [String: (data: Data, used: UInt64)] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    init(side: Int, maxBytes: Int) {
        self.side = max(16, side)
        self.maxBytes = max(0, maxBytes)
    }

    static func key(_ id: Int64, _ sha256: String) -> String { "\(id)-\(sha256)" }

    /// The cached thumbnail, marked as just used.
    func cached(_ key: String) -> Data? {
        state.withLock { s in
            guard let entry = s.entries[key] else { return nil }
            s.clock += 1
            s.entries[key] = (entry.data, s.clock)
            return entry.data
        }
    }

    func store(_ key: String, _ data: Data) {
        guard data.count <= maxBytes else { return }
        let maxBytes = self.maxBytes
        state.withLock { s in
            if let old = s.entries[key] { s.bytes -= old.data.count }
            s.clock += 1
            s.entries[key] = (data, s.clock)
            s.bytes += data.count
            while s.bytes > maxBytes, let oldest = s.entries.min(by: { $0.value.used < $1.value.used }) {
                s.bytes -= oldest.value.data.count
                s.entries[oldest.key] = nil
            }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// The thumbnail PNG of an image's PNG bytes.
    func make(from png: Data, name: String) throws -> Data {
        let image = try ImageFile.read(data: png, name: name)
        let thumb = image.width <= side && image.height <= side ? image : ContactSheet.fill(image, width: side, height: side)
        return try PNGFile.encode(thumb)
    }
}
