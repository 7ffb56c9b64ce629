import Foundation

/// JSON `null` in a config file.
struct ConfigNull: Sendable {}

/// A component's `config.json` (diffusers or transformers), read with typed accessors whose
/// errors name the file and the key.
public struct ConfigFile: Sendable {
    public let path: String
    public let values: [String: any Sendable]

    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelFileError.missingFile(path: path, hint: "every component folder needs its config.json")
        }
        try self.init(path: path, data: try RegularFile.read(path))
    }

    public init(path: String, data: Data) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelFileError.invalidConfig(path: path, key: "(file)", reason: "is not a JSON object")
        }
        self.path = path
        var v: [String: any Sendable] = [:]
        for (k, x) in object { v[k] = ConfigFile.sendable(x) }
        values = v
    }

    public init(path: String, values: [String: any Sendable]) {
        self.path = path
        self.values = values
    }

    private static func sendable(_ x: Any) -> any Sendable {
        switch x {
        case let n as NSNumber:
            // JSON booleans arrive as NSNumber with objCType "c".
            if String(cString: n.objCType) == "c" { return n.boolValue }
            return n.doubleValue
        case let s as String: return s
        case let a as [Any]: return a.map { sendable($0) }
        case let d as [String: Any]: return d.mapValues { sendable($0) }
        default: return ConfigNull()
        }
    }

    public func has(_ key: String) -> Bool {
        guard let v = values[key] else { return false }
        return !isNull(v)
    }

    private func isNull(_ v: any Sendable) -> Bool { v is ConfigNull }

    private func fail(_ key: String, _ reason: String) -> ModelFileError {
        .invalidConfig(path: path, key: key, reason: reason)
    }

    public func int(_ key: String, default d: Int? = nil) throws -> Int {
        guard let v = values[key], !isNull(v) else {
            if let d { return d }
            throw fail(key, "is missing; it is required")
        }
        guard let n = v as? Double, n == n.rounded(), abs(n) < 1e15 else { throw fail(key, "must be an integer, found \(v)") }
        return Int(n)
    }

    /// An integer that must lie in `range` (sane bounds, checked when the config is parsed so a
    /// hostile value never reaches a division or an allocation).
    public func int(_ key: String, default d: Int? = nil, in range: ClosedRange<Int>) throws -> Int {
        let n = try int(key, default: d)
        guard range.contains(n) else { throw fail(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(n)") }
        return n
    }

    /// `intList` whose every entry must lie in `range`.
    public func intList(_ key: String, count: Int, default d: [Int]? = nil, in range: ClosedRange<Int>) throws -> [Int] {
        let list = try intList(key, count: count, default: d)
        for (i, n) in list.enumerated() where !range.contains(n) {
            throw fail(key, "[\(i)] must be between \(range.lowerBound) and \(range.upperBound), found \(n)")
        }
        return list
    }

    public func double(_ key: String, default d: Double? = nil) throws -> Double {
        guard let v = values[key], !isNull(v) else {
            if let d { return d }
            throw fail(key, "is missing; it is required")
        }
        guard let n = v as? Double else { throw fail(key, "must be a number, found \(v)") }
        return n
    }

    /// A number that must lie in `range` (so it stays finite and sensible as a Float).
    public func double(_ key: String, default d: Double? = nil, in range: ClosedRange<Double>) throws -> Double {
        let n = try double(key, default: d)
        guard range.contains(n) else { throw fail(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(n)") }
        return n
    }

    public func bool(_ key: String, default d: Bool? = nil) throws -> Bool {
        guard let v = values[key], !isNull(v) else {
            if let d { return d }
            throw fail(key, "is missing; it is required")
        }
        guard let b = v as? Bool else { throw fail(key, "must be true or false, found \(v)") }
        return b
    }

    public func string(_ key: String, default d: String? = nil) throws -> String {
        guard let v = values[key], !isNull(v) else {
            if let d { return d }
            throw fail(key, "is missing; it is required")
        }
        guard let s = v as? String else { throw fail(key, "must be a string, found \(v)") }
        return s
    }

    /// An optional string: nil when absent or null.
    public func optionalString(_ key: String) throws -> String? {
        has(key) ? try string(key) : nil
    }

    public func stringList(_ key: String, default d: [String]? = nil) throws -> [String] {
        guard let v = values[key], !isNull(v) else {
            if let d { return d }
            throw fail(key, "is missing; it is required")
        }
        guard let a = v as? [any Sendable], let s = a as? [String] else { throw fail(key, "must be a list of strings") }
        return s
    }

    /// An integer list, or a single integer repeated `count` times (diffusers accepts both).
    public func intList(_ key: String, count: Int, default d: [Int]? = nil) throws -> [Int] {
        guard let v = values[key], !isNull(v) else {
            if let d { return d }
            throw fail(key, "is missing; it is required")
        }
        if let n = v as? Double {
            guard n == n.rounded(), n >= 0, n < 1e15 else { throw fail(key, "must be a non-negative integer, found \(n)") }
            return Array(repeating: Int(n), count: count)
        }
        guard let a = v as? [any Sendable] else { throw fail(key, "must be an integer or a list of \(count) integers") }
        var out: [Int] = []
        for x in a {
            guard let n = x as? Double, n == n.rounded(), n >= 0, n < 1e15 else { throw fail(key, "must hold non-negative integers, found \(x)") }
            out.append(Int(n))
        }
        guard out.count == count else { throw fail(key, "has \(out.count) entries but \(count) are needed") }
        return out
    }

    /// A string restricted to known values; anything else is an error listing what is supported.
    @discardableResult
    public func choice(_ key: String, default d: String? = nil, allowed: [String]) throws -> String {
        let s = try string(key, default: d)
        guard allowed.contains(s) else {
            throw fail(key, "= \"\(s)\" is not supported (supported: \(allowed.joined(separator: ", ")))")
        }
        return s
    }

    /// Requires `key` to be absent, null or equal to one of `allowed` (for options Kiln does not implement).
    public func require(_ key: String, in allowed: [String?]) throws {
        guard let v = values[key], !isNull(v) else {
            if allowed.contains(where: { $0 == nil }) { return }
            throw fail(key, "is missing")
        }
        let text = (v as? String) ?? (v as? Bool).map { "\($0)" } ?? (v as? Double).map { n in n == n.rounded() ? "\(Int(n))" : "\(n)" } ?? "\(v)"
        guard allowed.contains(where: { $0 == text }) else {
            let list = allowed.map { $0 ?? "null" }.joined(separator: ", ")
            throw fail(key, "= \(text) is not supported (supported: \(list))")
        }
    }
}
