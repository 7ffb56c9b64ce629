import CZlib
import Foundation

/// Reading tokenizer files within `TokenizerLimits`: plain or gzip-compressed (`.gz`, as Kiln's
/// fixtures and bundled vocabulary are stored), and JSON checked for size before it is parsed.
enum TokenizerFile {
    /// The bytes of `path`, gunzipped when it ends in `.gz`; more than `limit` bytes is an error.
    static func read(_ path: String, limit: Int = TokenizerLimits.maxFileBytes) throws -> Data {
        // A FIFO would block the read until something writes to it: regular files only, symlinks
        // followed (stat, not attributesOfItem's lstat: a Hugging Face cache links every file).
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw TokenizerError.unreadable(path: path) }
        let size = Int(st.st_size)
        if path.hasSuffix(".gz") { return try gunzip(path, limit: limit) }
        try TokenizerLimits.check(size, limit, "a file of \(size) bytes", path: path)
        guard let data = FileManager.default.contents(atPath: path) else { throw TokenizerError.unreadable(path: path) }
        try TokenizerLimits.check(data.count, limit, "a file of \(data.count) bytes", path: path)
        return data
    }

    /// Decompresses a gzip file, stopping as soon as it passes `limit` bytes.
    static func gunzip(_ path: String, limit: Int) throws -> Data {
        guard let gz = gzopen(path, "rb") else { throw TokenizerError.unreadable(path: path) }
        defer { gzclose(gz) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { gzread(gz, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw TokenizerError.unreadable(path: path) }
            if n == 0 { break }
            if data.count + Int(n) > limit {
                throw TokenizerError.tooLarge(path: path, what: "its decompressed size (over \(limit) bytes)", limit: limit)
            }
            data.append(buffer, count: Int(n))
        }
        return data
    }

    /// The top-level JSON object of `path`, after counting its values (so that a file of a
    /// million tiny arrays is refused before Foundation builds them).
    static func jsonObject(_ path: String, limit: Int = TokenizerLimits.maxFileBytes) throws -> [String: Any] {
        let data = try read(path, limit: limit)
        let values = countJSONValues(data)
        try TokenizerLimits.check(values, TokenizerLimits.maxJSONValues, "a JSON document of \(values) values", path: path)
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw TokenizerError.invalidJSON(path: path, reason: "not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw TokenizerError.invalidJSON(path: path, reason: "not a JSON object") }
        return object
    }

    /// An upper bound on the number of values in a JSON text: containers opened plus separators,
    /// counted outside strings.
    static func countJSONValues(_ data: Data) -> Int {
        data.withUnsafeBytes { raw -> Int in
            let bytes = raw.bindMemory(to: UInt8.self)
            var count = 1
            var inString = false, escaped = false
            for b in bytes {
                if inString {
                    if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                    continue
                }
                switch b {
                case 0x22: inString = true              // "
                case 0x5B, 0x7B, 0x2C: count &+= 1      // [ { ,
                default: break
                }
            }
            return count
        }
    }
}
