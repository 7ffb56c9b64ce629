import Foundation

/// Model files are read only when they are regular files: opening a FIFO blocks until something
/// writes to it, and a device or folder is never a model file. `stat` does not block.
public enum RegularFile {
    /// Refuses `path` unless it is a regular file (symlinks followed).
    public static func check(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw ModelFileError.missingFile(path: path, hint: "check the model path") }
            throw ModelFileError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFileError.unreadable(path: path, reason: "not a regular file (a FIFO, device or folder); point Kiln at the file itself")
        }
    }

    /// The bytes of a regular file of at most `limit` bytes.
    public static func read(_ path: String, limit: Int = 64 << 20) throws -> Data {
        try check(path)
        var st = stat()
        guard stat(path, &st) == 0, Int(st.st_size) <= limit else {
            throw ModelFileError.unreadable(path: path, reason: "larger than \(limit) bytes; this is not a config or index file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError.unreadable(path: path, reason: "permission denied")
        }
        return data
    }
}
