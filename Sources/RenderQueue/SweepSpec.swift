import Foundation
import Pipelines
import Schedulers
import Yams

/// A parameter sweep: base parameters, axes combined as a cartesian product (lists, or seed
/// ranges `{from, to}`), zipped groups (lists of equal length varied together), a repeat count
/// and a priority. Parameter names are `kiln render`'s option names from `RenderParameters`
/// (`guidance-rescale`, ...; `guidance_rescale` and diffusers' names are accepted too). Input
/// files (image, mask, latents) and the refiner are paths relative to the spec. Everything is
/// validated before anything is written.
public struct SweepSpec: Sendable {
    public var name: String?
    public var model: String
    public var config: String?
    public var priority: Int
    public var repeatCount: Int
    public var base: [String: SpecValue]
    public var axes: [(key: String, values: [SpecValue])]
    public var zips: [[(key: String, values: [SpecValue])]]
    public var sourceJSON: String

    /// A scalar parameter value from the spec.
    public typealias SpecValue = ParameterValue

    /// Whether `key` (normalised) names a render parameter.
    static func isParameter(_ key: String) -> Bool { RenderParameters.named(key) != nil }

    static func fail(_ key: String, _ reason: String) -> QueueError { .invalidSpec(key: key, reason: reason) }

    static func normalize(_ key: String) -> String { RenderParameters.named(key)?.name ?? key.replacingOccurrences(of: "_", with: "-") }

    static func scalar(_ v: Any, key: String) throws -> SpecValue {
        switch v {
        case let b as Bool: return .flag(b)
        case let n as Int: return .number(Double(n))
        case let n as Double: return .number(n)
        case let n as NSNumber: return String(cString: n.objCType) == "c" ? .flag(n.boolValue) : .number(n.doubleValue)
        case let s as String: return .text(s)
        default: throw fail(key, "must be a string, number or boolean, not \(type(of: v))")
        }
    }

    /// A list, or a `{from, to}` (inclusive, step 1) integer range.
    static func values(_ v: Any, key: String, limit: Int) throws -> [SpecValue] {
        if let list = v as? [Any] {
            guard !list.isEmpty else { throw fail(key, "is an empty axis; give at least one value") }
            return try list.map { try scalar($0, key: key) }
        }
        if let range = v as? [String: Any] {
            guard let from = (range["from"] as? NSNumber)?.int64Value ?? (range["from"] as? Int).map(Int64.init),
                  let to = (range["to"] as? NSNumber)?.int64Value ?? (range["to"] as? Int).map(Int64.init),
                  Set(range.keys).isSubset(of: ["from", "to"]) else {
                throw fail(key, "range must be {from: INT, to: INT}")
            }
            guard to >= from else { throw fail(key, "range is empty (to \(to) < from \(from))") }
            guard to - from < Int64(limit) else { throw fail(key, "range has \(to - from + 1) values, over the limit of \(limit) jobs") }
            return (from...to).map { .number(Double($0)) }
        }
        throw fail(key, "must be a list of values or a {from, to} range")
    }

    /// Parses YAML or JSON text (JSON is read by the YAML parser too).
    public init(text: String, limit: Int) throws {
        let parsed: Any?
        do { parsed = try Yams.load(yaml: text) } catch {
            throw SweepSpec.fail("(file)", "is not valid YAML or JSON: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        guard let root = parsed as? [String: Any] else { throw SweepSpec.fail("(file)", "must be a mapping with model, base and axes") }
        let known: Set<String> = ["name", "model", "config", "priority", "repeat", "base", "axes", "zip"]
        for key in root.keys where !known.contains(key) {
            throw SweepSpec.fail(key, "is not a sweep key (use: \(known.sorted().joined(separator: ", ")))")
        }
        guard let model = root["model"] as? String, !model.isEmpty else { throw SweepSpec.fail("model", "is required (a model folder or file)") }
        self.model = model
        config = root["config"] as? String
        name = root["name"] as? String
        priority = (root["priority"] as? Int) ?? 0
        repeatCount = (root["repeat"] as? Int) ?? 1
        guard repeatCount >= 1 else { throw SweepSpec.fail("repeat", "must be at least 1") }
        var base: [String: SpecValue] = [:]
        if let b = root["base"] {
            guard let map = b as? [String: Any] else { throw SweepSpec.fail("base", "must be a mapping of parameters") }
            for (k, v) in map {
                let key = SweepSpec.normalize(k)
                guard SweepSpec.isParameter(key) else { throw SweepSpec.fail("base.\(k)", "is not a render parameter") }
                base[key] = try SweepSpec.scalar(v, key: "base.\(k)")
            }
        }
        self.base = base
        var axes: [(String, [SpecValue])] = []
        if let a = root["axes"] {
            guard let map = a as? [String: Any] else { throw SweepSpec.fail("axes", "must be a mapping of parameter to values") }
            for (k, v) in map.sorted(by: { $0.key < $1.key }) {
                let key = SweepSpec.normalize(k)
                guard SweepSpec.isParameter(key) else { throw SweepSpec.fail("axes.\(k)", "is not a render parameter") }
                axes.append((key, try SweepSpec.values(v, key: "axes.\(k)", limit: limit)))
            }
        }
        self.axes = axes
        var zips: [[(String, [SpecValue])]] = []
        if let z = root["zip"] {
            guard let groups = z as? [Any] else { throw SweepSpec.fail("zip", "must be a list of groups") }
            for (i, g) in groups.enumerated() {
                guard let map = g as? [String: Any], !map.isEmpty else { throw SweepSpec.fail("zip[\(i)]", "must be a non-empty mapping") }
                var group: [(String, [SpecValue])] = []
                for (k, v) in map.sorted(by: { $0.key < $1.key }) {
                    let key = SweepSpec.normalize(k)
                    guard SweepSpec.isParameter(key) else { throw SweepSpec.fail("zip[\(i)].\(k)", "is not a render parameter") }
                    group.append((key, try SweepSpec.values(v, key: "zip[\(i)].\(k)", limit: limit)))
                }
                guard Set(group.map { $0.1.count }).count == 1 else {
                    throw SweepSpec.fail("zip[\(i)]", "lists must have equal lengths (\(group.map { "\($0.0): \($0.1.count)" }.joined(separator: ", ")))")
                }
                zips.append(group)
            }
        }
        self.zips = zips
        let data = try? JSONSerialization.data(withJSONObject: SweepSpec.jsonSafe(root), options: [.sortedKeys])
        sourceJSON = data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        guard count <= limit else { throw SweepSpec.fail("axes", "expand to \(count) jobs, over the limit of \(limit) (raise it with --limit)") }
        _ = try request(at: 0)  // base values alone must already be valid
    }

    static func jsonSafe(_ v: Any) -> Any {
        switch v {
        case let m as [String: Any]: return m.mapValues(jsonSafe)
        case let l as [Any]: return l.map(jsonSafe)
        case is String, is Bool, is Int, is Double, is NSNumber: return v
        default: return "\(v)"
        }
    }

    /// Number of jobs: the product of axis lengths and zip group lengths, times repeat.
    public var count: Int {
        var n = repeatCount
        for a in axes { n = n.multipliedReportingOverflow(by: a.values.count).overflow ? Int.max : n * a.values.count }
        for z in zips { n = n.multipliedReportingOverflow(by: z[0].1.count).overflow ? Int.max : n * z[0].1.count }
        return n
    }

    /// The request of job `index` (axes vary slowest first, then zip groups, then repeats).
    public func request(at index: Int) throws -> RenderRequest {
        var values = base
        var rest = index / repeatCount
        var dims: [[(String, [SpecValue])]] = axes.map { [$0] } + zips
        dims.reverse()
        var chosen: [(String, SpecValue)] = []
        for dim in dims {
            let n = dim[0].1.count
            let i = rest % n
            rest /= n
            for (key, list) in dim { chosen.append((key, list[i])) }
        }
        for (k, v) in chosen { values[k] = v }
        guard let prompt = values["prompt"] else { throw SweepSpec.fail("prompt", "is required in base, axes or zip") }
        var r = RenderRequest(prompt: prompt.description)
        for (key, value) in values where key != "prompt" { try SweepSpec.apply(key, value, to: &r) }
        do { try r.validate() } catch { throw SweepSpec.fail(String(describing: error).components(separatedBy: ":").first ?? "value", "\(error)") }
        return r
    }

    static func apply(_ key: String, _ v: SpecValue, to r: inout RenderRequest) throws {
        guard let parameter = RenderParameters.named(key) else { throw fail(key, "is not a render parameter") }
        do { try parameter.apply(v, to: &r) } catch let error as RenderError {
            if case .invalid(_, let reason) = error { throw fail(key, reason) }
            throw fail(key, "\(error)")
        }
    }
}
