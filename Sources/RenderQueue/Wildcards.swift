import Foundation

/// A folder of wildcard files as dynamicprompts' `WildcardManager` reads it: every `*.txt` below
/// it (folders whose names start with '.' skipped) is the wildcard named by its path without
/// `.txt` (`sub/name`); each file gives its non-blank lines not starting with '#', stripped. A
/// name may be a glob (`colors*`, `?`, `[...]`, matched as Python's fnmatch does, '*' crossing
/// '/'); one that matches nothing is tried again as `**/name`. The values of all matching files
/// are de-duplicated and sorted (dynamicprompts' defaults). Only `.txt` files are read.
public final class WildcardFolder {
    public let root: URL
    private var files: [String: URL]?
    private var cache: [String: [String]] = [:]

    /// Largest wildcard file read, checked before reading.
    public static let maxFileBytes = 4 << 20
    /// Most wildcard files, folder entries and deepest folder walked (a link to `/` is refused, not walked).
    public static let maxFiles = 10_000
    public static let maxEntries = 100_000
    public static let maxFolderDepth = 16

    public init(root: URL) { self.root = root }

    /// The values of wildcard `name` (as written between `__`s); throws when nothing matches.
    public func values(_ name: String) throws -> [String] {
        let pattern = try WildcardFolder.clean(name)
        if let hit = cache[pattern] { return hit }
        var values = try read(matching: pattern)
        if values.isEmpty, !pattern.hasPrefix("**") { values = try read(matching: "**/" + pattern) }
        guard !values.isEmpty else {
            throw PromptTemplateError("wildcard __\(name)__ matches no .txt file with entries in \(root.path); add \(pattern).txt there or fix the name")
        }
        var seen = Set<String>()
        values = values.filter { seen.insert($0).inserted }
        // Python's sorted(key=str): by code point.
        values.sort { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        cache[pattern] = values
        return values
    }

    /// dynamicprompts' clean_wildcard: separators made '/', outer ones dropped, no '..'.
    static func clean(_ name: String) throws -> String {
        var out = ""
        var lastSlash = false
        for c in name {
            if c == "/" || c == "\\" {
                if !lastSlash { out.append("/") }
                lastSlash = true
            } else {
                out.append(c); lastSlash = false
            }
        }
        while out.hasPrefix("/") { out.removeFirst() }
        while out.hasSuffix("/") { out.removeLast() }
        guard !out.contains("..") else { throw PromptTemplateError("wildcard __\(name)__: a name may not contain '..'") }
        return out
    }

    private func read(matching pattern: String) throws -> [String] {
        var out: [String] = []
        for (name, url) in try index().sorted(by: { $0.key < $1.key }) where Glob.matches(name, pattern) {
            out += try WildcardFolder.lines(of: url, what: "wildcard file")
        }
        return out
    }

    /// Reads a text file's non-blank, non-'#' lines, stripped; refuses files over `maxFileBytes`
    /// (checked before reading) and text that is not UTF-8.
    static func lines(of url: URL, what: String, maxBytes: Int = maxFileBytes) throws -> [String] {
        let size: Int
        do {
            // Of the file a link points to (a linked .txt is read, as dynamicprompts reads it).
            let attributes = try FileManager.default.attributesOfItem(atPath: url.resolvingSymlinksInPath().path)
            // A FIFO or device (/dev/stdin, /dev/zero) could block or never end.
            guard attributes[.type] as? FileAttributeType == .typeRegular else {
                throw PromptTemplateError("\(what) \(url.path) is not a regular file; name a text file")
            }
            size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch let error as PromptTemplateError {
            throw error
        } catch {
            throw PromptTemplateError("\(what) \(url.path) cannot be read; check the path")
        }
        guard size <= maxBytes else {
            throw PromptTemplateError("\(what) \(url.path) is \(size) bytes, over the limit of \(maxBytes); split it")
        }
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw PromptTemplateError("\(what) \(url.path) cannot be read; check its permissions")
        }
        defer { try? handle.close() }
        // Read at most one byte past the limit: the file may have grown since it was measured.
        let data = (try? handle.read(upToCount: maxBytes + 1)) ?? Data()
        guard data.count <= maxBytes else {
            throw PromptTemplateError("\(what) \(url.path) is over the limit of \(maxBytes) bytes; split it")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PromptTemplateError("\(what) \(url.path) is not UTF-8 text; save it as UTF-8")
        }
        // Python's universal newlines: \r\n, \r and \n end a line.
        return text.replacingOccurrences(of: "\r\n", with: "\n").split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r" }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// Every wildcard file's name (path below the root without `.txt`) and location.
    private func index() throws -> [String: URL] {
        if let files { return files }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw PromptTemplateError("wildcards folder \(root.path) does not exist; fix 'wildcards:' in the spec (it is relative to the spec)")
        }
        var found: [String: URL] = [:]
        var entries = 0
        func walk(_ folder: URL, _ prefix: String, _ depth: Int) throws {
            guard depth <= WildcardFolder.maxFolderDepth else {
                throw PromptTemplateError("wildcards folder \(root.path) is nested more than \(WildcardFolder.maxFolderDepth) folders deep (a link loop?)")
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            entries += names.count
            guard entries <= WildcardFolder.maxEntries else {
                throw PromptTemplateError("wildcards folder \(root.path) holds more than \(WildcardFolder.maxEntries) files and folders; name a smaller folder")
            }
            for name in names.sorted() {
                let url = folder.appendingPathComponent(name)
                var dir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: url.path, isDirectory: &dir) else { continue }
                if dir.boolValue {
                    if !name.hasPrefix(".") { try walk(url, prefix + name + "/", depth + 1) }
                } else if name.hasSuffix(".txt") {
                    found[prefix + String(name.dropLast(4))] = url
                    guard found.count <= WildcardFolder.maxFiles else {
                        throw PromptTemplateError("wildcards folder \(root.path) holds more than \(WildcardFolder.maxFiles) .txt files")
                    }
                }
            }
        }
        try walk(root, "", 0)
        files = found
        return found
    }
}

/// Python's `fnmatch.fnmatchcase`: `*` any run (also across '/'), `?` one character, `[...]`
/// a set (`[!...]` its complement), everything else literal.
enum Glob {
    static func matches(_ name: String, _ pattern: String) -> Bool {
        let n = Array(name), p = Array(pattern)
        // Iterative matching with backtracking to the last '*'.
        var i = 0, j = 0, star = -1, mark = 0
        while i < n.count {
            if j < p.count, p[j] == "*" {
                star = j; mark = i; j += 1
            } else if j < p.count, let r = single(p, j, n[i]), r.0 {
                i += 1; j = r.1
            } else if star >= 0 {
                j = star + 1; mark += 1; i = mark
            } else {
                return false
            }
        }
        while j < p.count, p[j] == "*" { j += 1 }
        return j == p.count
    }

    /// Whether pattern element at `j` matches `c`, and the index after the element; nil for '*'.
    static func single(_ p: [Character], _ j: Int, _ c: Character) -> (Bool, Int)? {
        switch p[j] {
        case "*": return nil
        case "?": return (true, j + 1)
        case "[":
            var k = j + 1
            var negate = false
            if k < p.count, p[k] == "!" { negate = true; k += 1 }
            var first = true, hit = false
            while k < p.count, p[k] != "]" || first {
                first = false
                if k + 2 < p.count, p[k + 1] == "-", p[k + 2] != "]" {
                    if p[k] <= c && c <= p[k + 2] { hit = true }
                    k += 3
                } else {
                    if p[k] == c { hit = true }
                    k += 1
                }
            }
            // No closing ']': fnmatch reads '[' literally.
            guard k < p.count else { return (c == "[", j + 1) }
            return (hit != negate, k + 1)
        default: return (p[j] == c, j + 1)
        }
    }
}
