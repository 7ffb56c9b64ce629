import Foundation

/// Expands prompt templates: every expansion in the order dynamicprompts 0.31's
/// `CombinatorialPromptGenerator` gives, or seeded random draws. The number of expansions is
/// computed (an upper bound, exact unless options repeat) before anything is expanded, so a
/// template whose product is huge is refused without being built. Wildcards come from `folder`;
/// a wildcard that names nothing, or a cycle between wildcards, is refused.
public final class PromptExpander {
    let folder: WildcardFolder?
    let limit: Int
    private var parsed: [String: PromptTemplate] = [:]
    private var counts: [String: Int] = [:]
    private var lengths: [String: Int] = [:]
    private var stack: [String] = []

    /// Most text all expansions of one template may hold together, in bytes.
    public static let maxTotalBytes = 256 << 20
    /// Deepest chain of wildcards that name wildcards.
    public static let maxWildcardDepth = 32

    public init(folder: WildcardFolder?, limit: Int) { self.folder = folder; self.limit = limit }

    /// Every expansion of `template`, in dynamicprompts' order; refused when there would be more
    /// than `limit` of them (counted first).
    public func combinatorial(_ template: String) throws -> [String] {
        let node = try PromptTemplate.parse(template)
        let n = try count(node)
        guard n <= limit else {
            throw PromptTemplateError("template \(template.debugDescription) expands to \(n == Int.max ? "more than \(Int.max)" : "\(n)") prompts, over the limit of \(limit) jobs (raise it with --limit, or use {random: ..., count: N})")
        }
        let longest = try length(node)
        guard longest.multipliedReportingOverflow(by: n).overflow == false, longest * n <= PromptExpander.maxTotalBytes else {
            throw PromptTemplateError("template \(template.debugDescription) expands to \(n) prompts of up to \(longest) bytes, over \(PromptExpander.maxTotalBytes) bytes in all")
        }
        return try expand(node)
    }

    /// `count` draws from `template`, the same for the same seed (Kiln's own generator, not
    /// Python's: the draws do not match dynamicprompts' random generator). Weights `{0.5::a|b}`
    /// make an option more or less likely.
    public func random(_ template: String, count n: Int, seed: UInt64) throws -> [String] {
        let node = try PromptTemplate.parse(template)
        _ = try count(node)  // resolves every wildcard and refuses cycles before drawing
        var rng = SplitMix64(seed: seed)
        return try (0..<n).map { _ in try draw(node, &rng) }
    }

    // MARK: - Wildcards

    private func template(of value: String) throws -> PromptTemplate {
        if let hit = parsed[value] { return hit }
        do {
            let node = try PromptTemplate.parse(value)
            parsed[value] = node
            return node
        } catch let error as PromptTemplateError {
            throw PromptTemplateError("wildcard entry \(value.debugDescription): \(error.message)")
        }
    }

    /// The parsed values of a wildcard, with `body` run inside the cycle check.
    private func within<T>(_ name: String, _ body: ([PromptTemplate]) throws -> T) throws -> T {
        guard let folder else {
            throw PromptTemplateError("template uses wildcard __\(name)__ but the spec names no 'wildcards:' folder")
        }
        let key = try WildcardFolder.clean(name)
        if stack.contains(key) {
            throw PromptTemplateError("wildcards form a cycle: \((stack.drop(while: { $0 != key }) + [key]).map { "__\($0)__" }.joined(separator: " -> ")); break it")
        }
        guard stack.count < PromptExpander.maxWildcardDepth else {
            throw PromptTemplateError("wildcards nest more than \(PromptExpander.maxWildcardDepth) deep (\(stack.map { "__\($0)__" }.joined(separator: " -> ")))")
        }
        let values = try folder.values(name).map(template(of:))
        stack.append(key)
        defer { stack.removeLast() }
        return try body(values)
    }

    /// A variant made of a wildcard's values (dynamicprompts' wildcard_to_variant).
    private func wildcardVariant(_ v: PromptTemplate.Variant, _ name: String, _ values: [PromptTemplate]) -> PromptTemplate.Variant {
        PromptTemplate.Variant(options: values.map { PromptTemplate.Option(weight: 1, node: $0) },
                               minBound: min(v.minBound, values.count), maxBound: min(v.maxBound, values.count),
                               separator: v.separator, marker: false)
    }

    static func singleWildcard(_ v: PromptTemplate.Variant) -> String? {
        if v.options.count == 1, case .wildcard(let name, _) = v.options[0].node { return name }
        return nil
    }

    // MARK: - Counting (before expanding)

    static func add(_ a: Int, _ b: Int) -> Int { let (r, o) = a.addingReportingOverflow(b); return o ? .max : r }
    static func mul(_ a: Int, _ b: Int) -> Int { let (r, o) = a.multipliedReportingOverflow(by: b); return o ? .max : r }

    /// An upper bound of the number of expansions (exact when no two options expand alike).
    func count(_ node: PromptTemplate) throws -> Int {
        switch node {
        case .literal: return 1
        case .sequence(let parts): return try parts.reduce(1) { PromptExpander.mul($0, try count($1)) }
        case .wildcard(let name, _):
            let key = try WildcardFolder.clean(name)
            if let hit = counts[key] { return hit }
            let n = try within(name) { values in try values.reduce(0) { PromptExpander.add($0, try count($1)) } }
            counts[key] = n
            return n
        case .variant(let v):
            if let name = PromptExpander.singleWildcard(v) {
                return try within(name) { values in try count(.variant(wildcardVariant(v, name, values))) }
            }
            let sizes = try v.options.map { try count($0.node) }
            let lo = min(v.minBound, sizes.count), hi = min(v.maxBound, sizes.count)
            guard lo <= hi else { return 0 }
            // Ordered choices of k distinct options, each expanded: k! * e_k(sizes).
            var e = [Int](repeating: 0, count: hi + 1)
            e[0] = 1
            for c in sizes {
                for k in stride(from: hi, through: 1, by: -1) { e[k] = PromptExpander.add(e[k], PromptExpander.mul(e[k - 1], c)) }
            }
            var total = 0, factorial = 1
            for k in 0...hi {
                if k > 0 { factorial = PromptExpander.mul(factorial, k) }
                if k >= lo { total = PromptExpander.add(total, PromptExpander.mul(factorial, e[k])) }
            }
            return total
        }
    }

    /// An upper bound of the length (UTF-8 bytes) of one expansion.
    func length(_ node: PromptTemplate) throws -> Int {
        switch node {
        case .literal(let s): return s.utf8.count
        case .sequence(let parts): return try parts.reduce(0) { PromptExpander.add($0, try length($1)) }
        case .wildcard(let name, _):
            let key = try WildcardFolder.clean(name)
            if let hit = lengths[key] { return hit }
            let n = try within(name) { values in try values.map(length).max() ?? 0 }
            lengths[key] = n
            return n
        case .variant(let v):
            if let name = PromptExpander.singleWildcard(v) {
                return try within(name) { values in try length(.variant(wildcardVariant(v, name, values))) }
            }
            let k = min(v.maxBound, v.options.count)
            let longest = try v.options.map { try length($0.node) }.sorted(by: >).prefix(k)
            return PromptExpander.add(longest.reduce(0, PromptExpander.add), PromptExpander.mul(v.separator.utf8.count, max(0, k - 1)))
        }
    }

    // MARK: - Combinatorial expansion (CombinatorialSampler)

    func expand(_ node: PromptTemplate) throws -> [String] {
        switch node {
        case .literal(let s): return [s]
        case .sequence(let parts):
            // The first part varies slowest.
            var out = [""]
            for part in parts {
                let next = try expand(part)
                out = out.flatMap { head in next.map { head + $0 } }
            }
            return out
        case .wildcard(let name, _):
            return try within(name) { values in try values.flatMap(expand) }
        case .variant(let v):
            if let name = PromptExpander.singleWildcard(v) {
                return try within(name) { values in try expand(.variant(wildcardVariant(v, name, values))) }
            }
            return try expandVariant(v)
        }
    }

    private func expandVariant(_ v: PromptTemplate.Variant) throws -> [String] {
        let n = v.options.count
        guard n > 0 else { return [] }
        let lo = min(v.minBound, n), hi = min(v.maxBound, n)
        var expansions: [Int: [String]] = [:]
        func expansion(_ i: Int) throws -> [String] {
            if let hit = expansions[i] { return hit }
            let e = try expand(v.options[i].node)
            expansions[i] = e
            return e
        }
        var out: [String] = []
        var seen = Set<[String]>()
        /// get_value_combinations: ordered choices, each later pick from the options unequal to
        /// every earlier one.
        func choose(_ k: Int, _ candidates: [Int], _ chosen: [Int]) throws {
            guard k > 0 else { try emit(chosen, k: chosen.count); return }
            for c in candidates {
                let others = k > 1 ? candidates.filter { v.options[$0] != v.options[c] } : []
                try choose(k - 1, others, chosen + [c])
            }
        }
        /// _combo_to_prompt: the product of the chosen options' expansions, first slowest;
        /// kept when its texts are distinct and it was not given before.
        func emit(_ combo: [Int], k: Int) throws {
            var rows: [[String]] = [[]]
            for i in combo {
                let e = try expansion(i)
                rows = rows.flatMap { row in e.map { row + [$0] } }
            }
            for row in rows {
                var texts = Set<String>()
                let deduped = row.filter { texts.insert($0).inserted }
                guard deduped.count == k, seen.insert(deduped).inserted else { continue }
                out.append(PromptExpander.joined(deduped, separator: v.separator))
            }
        }
        guard lo <= hi else { return [] }
        for k in lo...hi { try choose(k, Array(0..<n), []) }
        return out
    }

    /// SamplingResult.joined: one part as it is; more joined, one separator dropped from each end.
    static func joined(_ parts: [String], separator: String) -> String {
        if parts.count == 1 { return parts[0] }
        var text = parts.joined(separator: separator)
        if !separator.isEmpty {
            if text.hasPrefix(separator) { text.removeFirst(separator.count) }
            if text.hasSuffix(separator) { text.removeLast(separator.count) }
        }
        return text
    }

    // MARK: - Random draws

    private func draw(_ node: PromptTemplate, _ rng: inout SplitMix64) throws -> String {
        switch node {
        case .literal(let s): return s
        case .sequence(let parts): return try parts.map { try draw($0, &rng) }.joined()
        case .wildcard(let name, _):
            return try within(name) { values in try draw(values[Int(rng.next() % UInt64(values.count))], &rng) }
        case .variant(let v):
            if let name = PromptExpander.singleWildcard(v) {
                return try within(name) { values in try drawVariant(wildcardVariant(v, name, values), &rng) }
            }
            return try drawVariant(v, &rng)
        }
    }

    /// A number of options between the bounds, picked by weight without repeats.
    private func drawVariant(_ v: PromptTemplate.Variant, _ rng: inout SplitMix64) throws -> String {
        let lo = min(v.minBound, v.options.count), hi = min(v.maxBound, v.options.count)
        guard lo <= hi, !v.options.isEmpty else { return "" }
        let k = lo + Int(rng.next() % UInt64(hi - lo + 1))
        var left = Array(v.options.indices)
        var picked: [String] = []
        for _ in 0..<k {
            let weights = left.map { max(0, v.options[$0].weight) }
            let total = weights.reduce(0, +)
            var at = 0
            if total > 0 {
                var x = rng.unit() * total
                while at < left.count - 1, x >= weights[at] { x -= weights[at]; at += 1 }
            } else {
                at = Int(rng.next() % UInt64(left.count))
            }
            picked.append(try draw(v.options[left.remove(at: at)].node, &rng))
        }
        return PromptExpander.joined(picked, separator: v.separator)
    }
}

/// A small seeded generator (SplitMix64): the same draws for the same seed on every machine.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A double in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
