import Foundation
import RenderRecord
import Yams

/// A parameter sweep: base parameters, axes combined as a cartesian product (lists, or seed
/// ranges `{from, to}`), zipped groups (lists of equal length varied together), a repeat count
/// and a priority. Parameter names are `kiln render`'s option names from `RenderParameters`
/// (`guidance-rescale`, ...; `guidance_rescale` and diffusers' names are accepted too). Input
/// files (image, mask, latents) and the refiner are paths relative to the spec; the model and
/// refiner may instead be Hugging Face Hub ids (`kiln sweep` resolves them). Everything is
/// validated before anything is written. A prompt axis may also list prompt templates and prompt
/// files (`PromptAxisValues`), expanded here; wildcards come from the top-level `wildcards:` folder.
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
    /// Per axis (and per zip group and key): the template each value was expanded from, nil for
    /// values given as they are. Empty when the list used no template.
    var axisTemplates: [[String?]] = []
    var zipTemplates: [[[String?]]] = []

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
            guard list.count <= limit else { throw fail(key, "lists \(list.count) values, over the limit of \(limit) jobs (raise it with --limit)") }
            return try list.map { try scalar($0, key: key) }
        }
        if let range = v as? [String: Any] {
            guard Set(range.keys).isSubset(of: ["from", "to"]), range["from"] != nil, range["to"] != nil else {
                throw fail(key, "range must be {from: INT, to: INT}")
            }
            let from = try integer(range["from"], key: "\(key).from"), to = try integer(range["to"], key: "\(key).to")
            guard to >= from else { throw fail(key, "range is empty (to \(to) < from \(from))") }
            // Overflow-checked: {from: -1, to: Int64.max} has more values than an Int64 holds.
            let (span, overflow) = to.subtractingReportingOverflow(from)
            guard !overflow, span < Int64(limit) else {
                throw fail(key, "range from \(from) to \(to) has more than \(limit) values, over the limit of \(limit) jobs (raise it with --limit)")
            }
            return (from...to).map { .number(Double($0)) }
        }
        throw fail(key, "must be a list of values or a {from, to} range")
    }

    /// An integer (not a fraction, string or boolean), or nil when absent.
    static func integer(_ v: Any?, key: String) throws -> Int64 {
        switch v {
        case is Bool: break
        case let n as Int: return Int64(n)
        case let n as Int64: return n
        default: break
        }
        throw fail(key, "must be an integer, not \(v.map { "\($0)" } ?? "null")")
    }

    /// Largest spec file read: 8 MiB (a million-job sweep needs a few hundred bytes).
    public static let maxTextBytes = 8 << 20
    /// Largest number of YAML nodes after alias expansion.
    public static let maxNodes = 2_000_000

    /// Refuses a document whose aliases expand beyond `maxNodes` nodes (a "billion laughs"
    /// bomb), walking the composed tree, where an alias shares its anchor's storage, with a
    /// budget that stops the walk as soon as it is spent; and one with non-scalar mapping keys.
    static func checkExpansion(_ root: Node) throws {
        var budget = maxNodes
        var stack = [root]
        while let node = stack.popLast() {
            budget -= 1
            guard budget >= 0 else {
                throw fail("(file)", "expands to more than \(maxNodes) YAML values (aliases repeated too often?); write the spec out plainly")
            }
            switch node {
            case .mapping(let m):
                for (k, v) in m {
                    // Yams' value constructor stops the process on a non-scalar key (`? key: ...`).
                    guard case .scalar = k else {
                        throw fail("(file)", "has a mapping or list used as a key (YAML '? ' syntax); spec keys are plain names")
                    }
                    stack.append(v)
                }
            case .sequence(let s): stack.append(contentsOf: s)
            default: break
            }
        }
    }

    /// Parses YAML or JSON text (JSON is read by the YAML parser too). `folder` is the spec's
    /// folder, against which prompt files and the wildcards folder are read (nil: the current one).
    public init(text: String, limit: Int, folder: String? = nil) throws {
        guard text.utf8.count <= SweepSpec.maxTextBytes else {
            throw SweepSpec.fail("(file)", "is \(text.utf8.count) bytes, over the limit of \(SweepSpec.maxTextBytes); use {from, to} ranges and axes instead of long lists")
        }
        let parsed: Any?
        do {
            let node = try Yams.compose(yaml: text)
            if let node { try SweepSpec.checkExpansion(node) }
            parsed = node?.any
        } catch let error as QueueError {
            throw error
        } catch {
            throw SweepSpec.fail("(file)", "is not valid YAML or JSON: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        guard let root = parsed as? [String: Any] else { throw SweepSpec.fail("(file)", "must be a mapping with model, base and axes") }
        let known: Set<String> = ["name", "model", "config", "priority", "repeat", "base", "axes", "zip", "wildcards"]
        for key in root.keys where !known.contains(key) {
            throw SweepSpec.fail(key, "is not a sweep key (use: \(known.sorted().joined(separator: ", ")))")
        }
        guard let model = root["model"] as? String, !model.isEmpty else { throw SweepSpec.fail("model", "is required (a model folder or file, or a Hugging Face Hub id org/name[@revision])") }
        self.model = model
        for key in ["config", "name", "wildcards"] where root[key] != nil && !(root[key] is String) {
            throw SweepSpec.fail(key, "must be a string, not \(root[key].map { "\($0)" } ?? "null")")
        }
        config = root["config"] as? String
        name = root["name"] as? String
        let priority = try root["priority"].map { try SweepSpec.integer($0, key: "priority") } ?? 0
        guard priority >= -1_000_000_000, priority <= 1_000_000_000 else { throw SweepSpec.fail("priority", "must be between -1000000000 and 1000000000") }
        self.priority = Int(priority)
        let repeatCount = try root["repeat"].map { try SweepSpec.integer($0, key: "repeat") } ?? 1
        guard repeatCount >= 1 else { throw SweepSpec.fail("repeat", "must be at least 1") }
        guard repeatCount <= Int64(limit) else { throw SweepSpec.fail("repeat", "= \(repeatCount) is over the limit of \(limit) jobs (raise it with --limit)") }
        self.repeatCount = Int(repeatCount)
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
        let specFolder = URL(fileURLWithPath: folder ?? FileManager.default.currentDirectoryPath, isDirectory: true)
        let prompts = PromptAxisValues(folder: specFolder, wildcards: root["wildcards"] as? String, limit: limit)
        var axes: [(String, [SpecValue])] = []
        var axisTemplates: [[String?]] = []
        if let a = root["axes"] {
            guard let map = a as? [String: Any] else { throw SweepSpec.fail("axes", "must be a mapping of parameter to values") }
            for (k, v) in map.sorted(by: { $0.key < $1.key }) {
                let key = SweepSpec.normalize(k)
                guard SweepSpec.isParameter(key) else { throw SweepSpec.fail("axes.\(k)", "is not a render parameter") }
                let (values, templates) = try prompts.values(v, key: "axes.\(k)", parameter: key)
                axes.append((key, values))
                axisTemplates.append(templates)
            }
        }
        self.axes = axes
        self.axisTemplates = axisTemplates
        var zips: [[(String, [SpecValue])]] = []
        var zipTemplates: [[[String?]]] = []
        if let z = root["zip"] {
            guard let groups = z as? [Any] else { throw SweepSpec.fail("zip", "must be a list of groups") }
            for (i, g) in groups.enumerated() {
                guard let map = g as? [String: Any], !map.isEmpty else { throw SweepSpec.fail("zip[\(i)]", "must be a non-empty mapping") }
                var group: [(String, [SpecValue])] = []
                var templates: [[String?]] = []
                for (k, v) in map.sorted(by: { $0.key < $1.key }) {
                    let key = SweepSpec.normalize(k)
                    guard SweepSpec.isParameter(key) else { throw SweepSpec.fail("zip[\(i)].\(k)", "is not a render parameter") }
                    let (values, t) = try prompts.values(v, key: "zip[\(i)].\(k)", parameter: key)
                    group.append((key, values))
                    templates.append(t)
                }
                guard Set(group.map { $0.1.count }).count == 1 else {
                    throw SweepSpec.fail("zip[\(i)]", "lists must have equal lengths (\(group.map { "\($0.0): \($0.1.count)" }.joined(separator: ", ")))")
                }
                zips.append(group)
                zipTemplates.append(templates)
            }
        }
        self.zips = zips
        self.zipTemplates = zipTemplates
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
        var templates: [[[String?]]] = axes.indices.map { [axisTemplates.indices.contains($0) ? axisTemplates[$0] : []] } + zipTemplates
        dims.reverse()
        templates.reverse()
        var chosen: [(String, SpecValue)] = []
        // Each prompt parameter's template (prompt, prompt-2, negative-prompt, negative-prompt-2).
        var promptTemplates: [String: String?] = [:]
        for (d, dim) in dims.enumerated() {
            let n = dim[0].1.count
            let i = rest % n
            rest /= n
            for (j, (key, list)) in dim.enumerated() {
                chosen.append((key, list[i]))
                if let name = RenderParameters.named(key)?.name, SweepSpec.promptParameters.contains(name) {
                    let t = templates.indices.contains(d) && templates[d].indices.contains(j) ? templates[d][j] : []
                    // The last dim naming the prompt wins, as in `values` below.
                    promptTemplates[name] = .some(t.indices.contains(i) ? t[i] : nil)
                }
            }
        }
        for (k, v) in chosen { values[k] = v }
        // --timesteps and --sigmas give the step count; with steps too, one would silently win.
        if let given = ["steps", "num_inference_steps"].first(where: { values[$0] != nil }),
           let custom = ["timesteps", "sigmas"].first(where: { values[$0] != nil }) {
            throw SweepSpec.fail(given, "drop it; \(custom) gives the step count")
        }
        guard let prompt = values["prompt"] else { throw SweepSpec.fail("prompt", "is required in base, axes or zip") }
        var r = RenderRequest(prompt: prompt.description)
        r.promptTemplate = promptTemplates["prompt"] ?? nil
        r.prompt2Template = promptTemplates["prompt-2"] ?? nil
        r.negativePromptTemplate = promptTemplates["negative-prompt"] ?? nil
        r.negativePrompt2Template = promptTemplates["negative-prompt-2"] ?? nil
        for (key, value) in values where key != "prompt" { try SweepSpec.apply(key, value, to: &r) }
        do { try r.validate() } catch { throw SweepSpec.fail(String(describing: error).components(separatedBy: ":").first ?? "value", "\(error)") }
        return r
    }

    /// The parameters whose sweep values may be templates, each kept with its job.
    static let promptParameters: Set<String> = ["prompt", "prompt-2", "negative-prompt", "negative-prompt-2"]

    static func apply(_ key: String, _ v: SpecValue, to r: inout RenderRequest) throws {
        guard let parameter = RenderParameters.named(key) else { throw fail(key, "is not a render parameter") }
        do { try parameter.apply(v, to: &r) } catch let error as RenderError {
            if case .invalid(_, let reason) = error { throw fail(key, reason) }
            throw fail(key, "\(error)")
        }
    }
}
