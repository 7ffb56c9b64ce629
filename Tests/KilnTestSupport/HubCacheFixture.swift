import Foundation
import ModelFiles

/// A Hugging Face Hub cache in a temporary folder, laid out as huggingface_hub 1.x writes it
/// (file_download.py): `models--org--name/blobs/ETAG` (the SHA-256 of an LFS file such as
/// `.safetensors`, the git blob SHA-1 of any other file), `snapshots/COMMIT/PATH` as relative
/// symlinks into `blobs/`, and `refs/REVISION` holding the commit with no trailing newline.
public struct HubCacheFixture {
    public let root: String

    public init(root: String) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    public func repoFolder(_ repo: String) -> String {
        (root as NSString).appendingPathComponent("models--" + repo.replacingOccurrences(of: "/", with: "--"))
    }

    /// Adds every file of `folder` (recursively) as snapshot `commit` of `repo`, skipping the
    /// relative paths `skipping`, and points `refs/ref` at it when `ref` is given. Returns the
    /// snapshot folder.
    @discardableResult
    public func add(repo: String, commit: String, from folder: String, ref: String? = "main", skipping: Set<String> = []) throws -> String {
        let fm = FileManager.default
        let repoFolder = repoFolder(repo)
        let blobs = repoFolder + "/blobs", snapshot = repoFolder + "/snapshots/" + commit
        try fm.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        guard let walker = fm.enumerator(atPath: folder) else { throw CocoaError(.fileReadNoSuchFile) }
        for case let relative as String in walker {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: folder + "/" + relative, isDirectory: &isDir), !isDir.boolValue, !skipping.contains(relative) else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + relative))
            let etag = relative.hasSuffix(".safetensors") ? SHA256.hex(data) : GitBlobSHA1.hex(data)
            if !fm.fileExists(atPath: blobs + "/" + etag) { try data.write(to: URL(fileURLWithPath: blobs + "/" + etag)) }
            let link = snapshot + "/" + relative
            try fm.createDirectory(atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            // os.path.relpath(blob, dirname(link)): one "../" per folder below the repo folder.
            let depth = relative.split(separator: "/").count + 1
            try fm.createSymbolicLink(atPath: link, withDestinationPath: String(repeating: "../", count: depth) + "blobs/" + etag)
        }
        if let ref { try setRef(repo: repo, ref, to: commit) }
        return snapshot
    }

    /// Writes `refs/ref` as huggingface_hub does: the commit alone, no newline.
    public func setRef(repo: String, _ ref: String, to commit: String) throws {
        let path = repoFolder(repo) + "/refs/" + ref
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// Git's blob id, the ETag the Hub gives a file not stored in LFS: SHA-1 of "blob LEN\0" + bytes.
public enum GitBlobSHA1 {
    public static func hex(_ data: Data) -> String {
        var message = [UInt8]("blob \(data.count)\u{0}".utf8) + [UInt8](data)
        let bitLength = UInt64(message.count) * 8
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for i in (0..<8).reversed() { message.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        var h: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        for chunk in stride(from: 0, to: message.count, by: 64) {
            var w = [UInt32](repeating: 0, count: 80)
            for i in 0..<16 {
                w[i] = (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(message[chunk + i * 4 + $1]) }
            }
            for i in 16..<80 { let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]; w[i] = x << 1 | x >> 31 }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A827999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1BBCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62C1D6)
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, t)
            }
            h = [h[0] &+ a, h[1] &+ b, h[2] &+ c, h[3] &+ d, h[4] &+ e]
        }
        return h.map { String(format: "%08x", $0) }.joined()
    }
}
