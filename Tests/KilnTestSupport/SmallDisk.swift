import Foundation
import XCTest

/// A small tmpfs that a test fills up and frees again (Linux, as root). Where it cannot be
/// mounted the test is skipped; the injected full disk of `FullDiskHoldTests` covers the same
/// paths everywhere.
public final class SmallDisk {
    public let path: String
    public var filler: String { path + "/filler" }

    public init(at path: String, megabytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = try ChildProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
        guard try mount.status() == 0 else {
            throw XCTSkip("cannot mount a tmpfs at \(path) (\(mount.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); the injected full disk is tested instead")
        }
    }

    /// Writes the filler until the disk refuses more (ENOSPC), to the last byte.
    public func fill() {
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        while write(fd, chunk, 1) > 0 {}
    }

    /// Deletes the filler: the space is back.
    public func free() { unlink(filler) }

    public func unmount() { _ = try? ChildProcess("/bin/umount", ["-l", path]).status() }
}
