import Foundation
import RenderRecord
import Yams

/// The parameters a sweep varies, read from its stored spec (`sweeps.spec`, the JSON the sweep
/// was added with): every axis and every zipped list with more than one value, named as in
/// `RenderParameters`. The same for every database; readers fetch the spec and call this.
extension SweepAxis {
    public static func axes(specJSON: String) -> [SweepAxis] {
        // Parsed as `SweepSpec` parses specs (Yams reads JSON), so numbers stay numbers: Foundation's
        // JSON objects would turn 1 into a value that also reads as `true`.
        guard specJSON.utf8.count <= SweepSpec.maxTextBytes, let node = try? Yams.compose(yaml: specJSON),
              (try? SweepSpec.checkExpansion(node)) != nil, let root = node.any as? [String: Any] else { return [] }
        var out: [SweepAxis] = []
        func add(_ map: [String: Any]) {
            for (key, raw) in map.sorted(by: { $0.key < $1.key }) {
                guard let parameter = RenderParameters.named(key)?.name,
                      !out.contains(where: { $0.parameter == parameter }),
                      let values = try? SweepSpec.values(raw, key: key, limit: maxValues), values.count > 1 else { continue }
                out.append(SweepAxis(parameter: parameter, values: values.map(\.description)))
            }
        }
        if let axes = root["axes"] as? [String: Any] { add(axes) }
        for group in root["zip"] as? [Any] ?? [] {
            if let map = group as? [String: Any] { add(map) }
        }
        return out
    }

    /// Values listed per axis at most (a longer axis is still an axis; its list is cut).
    static let maxValues = 100_000
}

/// The columns of `v_outputs` a reader may sort or group by: only render parameters' columns
/// from `RenderParameters`, and `prompt_template`, so no text from a request ever becomes part
/// of a statement.
public enum OutputColumns {
    /// The `v_outputs` column of the parameter called `name` (or `prompt_template`), nil for
    /// anything else.
    public static func column(for name: String) -> String? {
        name == "prompt_template" ? "prompt_template" : RenderParameters.named(name)?.column
    }
}
