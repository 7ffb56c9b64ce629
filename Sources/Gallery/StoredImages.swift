import Foundation
import KilnBasics
import RenderQueue
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading an output's image. PNGs kept in the database (`outputs.png`) are served as stored.
/// A PNG written to a folder (`outputs.output_path`, `png` NULL) is read only when all hold:
/// the path, symbolic links of its folders resolved, lies inside an output folder the operator
/// named (`kiln serve --output-folder DIR`), climbs no `..`, is a regular file (not a symbolic
/// link, device, FIFO or folder), is at most `maxFileBytes`, and its bytes have the SHA-256 the
/// queue stored. Anyone who can write the queue can change `output_path`; these checks keep
/// that from reading any other file. Each refusal is one line saying why and what to do.
struct StoredImages: Sendable {
    static let maxFileBytes = 1 << 30

    /// The output folders, as real paths (symbolic links resolved).
    let folders: [String]

    /// `folders` resolved; a folder that does not resolve is left out (`GalleryOptions.validate`
    /// refuses one before the server starts).
    init(outputFolders: [String]) {
        folders = outputFolders.compactMap(StoredImages.realPath)
    }

    func bytes(of output: StoredOutput, id: Int64) throws -> Data {
        if let png = output.png { return png }
        guard let path = output.outputPath, !path.isEmpty else { throw PageError.notFound("image \(id) has no stored picture") }
        let notGiven = PageError.forbidden("image \(id) was written to a folder this gallery was not given: "
                                           + "start kiln serve with --output-folder DIR (the folder kiln work wrote to)")
        guard !folders.isEmpty else { throw notGiven }
        guard !path.split(separator: "/").contains("..") else {
            throw PageError.forbidden("image \(id)'s path climbs out of its folder with '..': not served")
        }
        var link = stat()
        guard lstat(path, &link) == 0 else {
            throw PageError.notFound("image \(id)'s file is gone (\(String(cString: strerror(errno)))): its image cannot be shown")
        }
        guard link.st_mode & S_IFMT != S_IFLNK else {
            throw PageError.forbidden("image \(id)'s file is a symbolic link: not served; keep the PNG itself in the output folder")
        }
        guard let real = StoredImages.realPath(path), inside(real) else { throw notGiven }
        let fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw PageError.notFound("image \(id)'s file cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard StoredImages.openedPath(fd).map(inside) ?? true else { throw notGiven }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw PageError.forbidden("image \(id)'s file is not a regular file (a folder, device or FIFO): not served")
        }
        guard Int(info.st_size) <= StoredImages.maxFileBytes else {
            throw PageError(status: .contentTooLarge, message: "image \(id)'s file is \(info.st_size) bytes, over \(StoredImages.maxFileBytes)")
        }
        let data = try StoredImages.read(fd, limit: StoredImages.maxFileBytes, id: id)
        guard SHA256.hex(data) == output.sha256.lowercased() else {
            throw PageError.forbidden("image \(id)'s file was changed or replaced since kiln work wrote it (its SHA-256 differs): not served")
        }
        return data
    }

    /// Whether the real path `real` is one of the folders or inside one.
    func inside(_ real: String) -> Bool {
        folders.contains { folder in real == folder || real.hasPrefix(folder == "/" ? "/" : folder + "/") }
    }

    /// `path` with every symbolic link and `.`/`..` resolved, nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The path the kernel opened for `fd` (Linux: /proc/self/fd), so a folder swapped for a
    /// link between the check and the open is caught; nil where the system cannot say.
    static func openedPath(_ fd: Int32) -> String? {
        #if os(Linux)
        return try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
        #else
        return nil
        #endif
    }

    /// At most `limit` bytes of `fd`; more is refused rather than read.
    static func read(_ fd: Int32, limit: Int, id: Int64) throws -> Data {
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { buffer in
                #if canImport(Glibc)
                Glibc.read(fd, buffer.baseAddress, buffer.count)
                #else
                Darwin.read(fd, buffer.baseAddress, buffer.count)
                #endif
            }
            if n == 0 { return data }
            if n < 0 {
                if errno == EINTR { continue }
                throw PageError.notFound("image \(id)'s file cannot be read: \(String(cString: strerror(errno)))")
            }
            data.append(contentsOf: chunk[0..<n])
            if data.count > limit { throw PageError(status: .contentTooLarge, message: "image \(id)'s file is over \(limit) bytes") }
        }
    }
}
