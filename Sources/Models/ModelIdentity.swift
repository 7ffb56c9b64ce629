import CZlib
import Foundation
import ModelFiles

extension SDXLModelFiles {
    /// A short content hash of the model: CRC-32 chains over the first and last MiB and the size
    /// of every weight file, in path order (reading whole multi-gigabyte files per render would
    /// cost minutes). Ten hex digits, as in the "Model hash" field of image parameters.
    public func contentHash() -> String {
        var files: [String] = []
        switch layout {
        case .singleFile(let c, _): files = [c.path]
        case .folder(let f):
            let fm = FileManager.default
            for name in f.components.keys.sorted() {
                let dir = (f.path as NSString).appendingPathComponent(name)
                for entry in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted()
                    where entry.hasSuffix(".safetensors") || entry.hasSuffix(".json") || entry.hasSuffix(".txt") {
                    files.append((dir as NSString).appendingPathComponent(entry))
                }
            }
        }
        var a: UInt = 0, b: UInt = 1
        for path in files {
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            defer { try? handle.close() }
            let size = (try? handle.seekToEnd()) ?? 0
            var chunks: [Data] = []
            try? handle.seek(toOffset: 0)
            if let head = try? handle.read(upToCount: 1 << 20) { chunks.append(head) }
            if size > 2 << 20 {
                try? handle.seek(toOffset: size - (1 << 20))
                if let tail = try? handle.read(upToCount: 1 << 20) { chunks.append(tail) }
            }
            chunks.append(Data("\((path as NSString).lastPathComponent):\(size)".utf8))
            for c in chunks {
                c.withUnsafeBytes { raw in
                    let p = raw.bindMemory(to: UInt8.self).baseAddress
                    a = crc32(a, p, UInt32(c.count))
                    b = adler32(b, p, UInt32(c.count))
                }
            }
        }
        return String(format: "%08x%02x", UInt32(truncatingIfNeeded: a), UInt8(truncatingIfNeeded: b))
    }
}
