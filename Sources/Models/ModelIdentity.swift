import CZlib
import Foundation
import ModelFiles

extension SDXLModelFiles {
    /// A short content hash of the model: CRC-32 chains over the first and last MiB and the size
    /// of every weight file, in path order (reading whole multi-gigabyte files per render would
    /// cost minutes). Ten hex digits, as in the "Model hash" field of image parameters.
    public func contentHash() -> String {
        switch layout {
        case .singleFile(let c, _): return SDXLModelFiles.hash(files: [c.path])
        case .folder(let f): return SDXLModelFiles.hash(files: f.components.keys.sorted().flatMap { componentFiles(f, $0) })
        }
    }

    /// The same hash over the weight files one component loads (those its variant picks). Two models
    /// whose component hashes agree hold the same weights for it, so it is loaded once (the
    /// refiner and base usually share text_encoder_2 and the VAE). A single file's components
    /// are told apart by the file's hash and their name.
    public func componentHash(_ name: String) -> String {
        if name == "unet", let unetOverride { return SDXLModelFiles.hash(files: unetOverride.files.filter { $0.hasSuffix(".safetensors") }) + ":unet" }
        switch layout {
        case .singleFile(let c, _): return SDXLModelFiles.hash(files: [c.path]) + ":" + name
        case .folder(let f):
            // The fp16 and plain weights of one folder are different weights to the cache.
            if let chosen = try? f.weightFiles(name, variant: variant).files() { return SDXLModelFiles.hash(files: chosen) + ":" + name }
            return SDXLModelFiles.hash(files: componentFiles(f, name).filter { $0.hasSuffix(".safetensors") }) + ":" + name
        }
    }

    func componentFiles(_ f: DiffusersFolder, _ name: String) -> [String] {
        let dir = (f.path as NSString).appendingPathComponent(name)
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            .filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".json") || $0.hasSuffix(".txt") }
            .map { (dir as NSString).appendingPathComponent($0) }
    }

    static func hash(files: [String]) -> String {
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
