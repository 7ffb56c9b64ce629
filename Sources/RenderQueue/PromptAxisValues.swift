import Foundation

/// Reads a sweep axis's values where prompts may be written as templates or files: the axis (or
/// any item of its list) may be `{combinatorial: TEMPLATE}`, `{random: TEMPLATE, count: N,
/// seed: S}` or `{file: PATH}` (one prompt a line, relative to the spec; blank and '#' lines
/// skipped), for `prompt`, `prompt-2`, `negative-prompt` and `negative-prompt-2`. Each object
/// expands into its place in the list; every other value is read as `SweepSpec.values` reads it.
struct PromptAxisValues {
    let folder: URL
    let wildcardsFolder: WildcardFolder?
    let limit: Int

    static let promptKeys: Set<String> = ["prompt", "prompt-2", "negative-prompt", "negative-prompt-2"]
    static let forms = "{combinatorial: TEMPLATE}, {random: TEMPLATE, count: N, seed: S} or {file: PATH}"

    init(folder: URL, wildcards: String?, limit: Int) {
        self.folder = folder
        self.limit = limit
        wildcardsFolder = wildcards.map { WildcardFolder(root: URL(fileURLWithPath: $0, relativeTo: folder).standardizedFileURL) }
    }

    /// The values and, aligned with them, the template each came from (empty: no template used).
    func values(_ v: Any, key: String, parameter: String) throws -> ([SweepSpec.SpecValue], [String?]) {
        let isObject = { (x: Any) -> Bool in (x as? [String: Any]).map { $0["from"] == nil && $0["to"] == nil } ?? false }
        let items: [Any]
        if let list = v as? [Any], list.contains(where: isObject) {
            items = list
        } else if isObject(v) {
            items = [v]
        } else {
            return (try SweepSpec.values(v, key: key, limit: limit), [])
        }
        guard PromptAxisValues.promptKeys.contains(parameter) else {
            throw SweepSpec.fail(key, "takes a list or a {from, to} range; \(PromptAxisValues.forms) is for prompts only")
        }
        var values: [SweepSpec.SpecValue] = [], templates: [String?] = []
        for item in items {
            if let object = item as? [String: Any] {
                let (expanded, template) = try expand(object, key: key)
                values += expanded.map { .text($0) }
                templates += Array(repeating: template, count: expanded.count)
            } else {
                values.append(try SweepSpec.scalar(item, key: key))
                templates.append(nil)
            }
            guard values.count <= limit else {
                throw SweepSpec.fail(key, "lists \(values.count) or more values, over the limit of \(limit) jobs (raise it with --limit)")
            }
        }
        guard !values.isEmpty else { throw SweepSpec.fail(key, "is an empty axis; give at least one value") }
        return (values, templates.contains { $0 != nil } ? templates : [])
    }

    /// One object's prompts and the template they came from (nil for a file).
    func expand(_ object: [String: Any], key: String) throws -> ([String], String?) {
        func text(_ name: String) throws -> String {
            guard let s = object[name] as? String, !s.isEmpty else { throw SweepSpec.fail("\(key).\(name)", "must be a non-empty string") }
            return s
        }
        let keys = Set(object.keys)
        do {
            if keys == ["combinatorial"] {
                let template = try text("combinatorial")
                return (try PromptExpander(folder: wildcardsFolder, limit: limit).combinatorial(template), template)
            }
            if keys.contains("random"), keys.isSubset(of: ["random", "count", "seed"]) {
                let template = try text("random")
                guard object["seed"] != nil else { throw SweepSpec.fail("\(key).seed", "is required with random: any integer, so the same draws can be made again") }
                let count = try SweepSpec.integer(object["count"], key: "\(key).count")
                let seed = try SweepSpec.integer(object["seed"], key: "\(key).seed")
                guard count >= 1, count <= Int64(limit) else { throw SweepSpec.fail("\(key).count", "must be between 1 and the limit of \(limit) jobs") }
                return (try PromptExpander(folder: wildcardsFolder, limit: limit).random(template, count: Int(count), seed: UInt64(bitPattern: seed)), template)
            }
            if keys == ["file"] {
                let path = try text("file")
                let url = URL(fileURLWithPath: path, relativeTo: folder).standardizedFileURL
                let lines = try WildcardFolder.lines(of: url, what: "prompt file", maxBytes: SweepSpec.maxTextBytes)
                guard !lines.isEmpty else { throw SweepSpec.fail("\(key).file", "\(url.path) holds no prompt (blank and '#' lines are skipped)") }
                return (lines, nil)
            }
        } catch let error as PromptTemplateError {
            throw SweepSpec.fail(key, error.message)
        }
        throw SweepSpec.fail(key, "has an object with keys \(keys.sorted().joined(separator: ", ")); write \(PromptAxisValues.forms)")
    }
}

extension SweepSpec {
    /// Each template the spec's axes and zips use, with its parameter and its expansions in
    /// order (what `kiln sweep --dry-run` shows).
    public var templateExpansions: [(key: String, template: String, prompts: [String])] {
        var out: [(key: String, template: String, prompts: [String])] = []
        let lists = Array(zip(axes.map { [$0] }, axisTemplates.map { [$0] })) + Array(zip(zips, zipTemplates))
        for (group, templates) in lists {
            for ((key, values), aligned) in zip(group, templates) where aligned.count == values.count {
                for (value, template) in zip(values, aligned) {
                    guard let template else { continue }
                    if let last = out.last, last.key == key, last.template == template {
                        out[out.count - 1].prompts.append(value.description)
                    } else {
                        out.append((key, template, [value.description]))
                    }
                }
            }
        }
        return out
    }
}
