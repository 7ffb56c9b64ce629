import Foundation
import Imaging
import RenderQueue
import RenderRecord

/// A sweep's grid as A1111's X/Y/Z plot: images across by one parameter (X) and down by
/// another (Y); every other parameter the sweep varies (Z) splits the page into one grid per
/// combination. Pages come from the queue sorted by Z, then Y, then X, so each page holds whole
/// rows wherever it can; labels are read from each image's provenance with
/// `RenderParameter.label(in:)` and laid out by `LabelledGrid`, as `kiln sheet` does.
struct GridModel: Sendable {
    struct Group: Sendable {
        /// The prompt template of this grid's images when the page groups by template (nil:
        /// not grouped, or prompts given as they are).
        let template: String?
        /// The Z parameters' values shared by this grid's images, as (name, value).
        let title: [(String, String)]
        let grid: LabelledGrid<OutputCard>
    }

    let x: RenderParameter?
    let y: RenderParameter?
    let z: [RenderParameter]
    /// Whether images are grouped by their prompt template first (`?group=prompt_template`).
    let byTemplate: Bool
    let groups: [Group]

    /// X and Y as asked for (any render parameter, or "none"), else the sweep's two axes with
    /// the most values (Y the longest, X the next); Z the sweep's other axes.
    static func axes(_ axes: [SweepAxis], x: String?, y: String?) -> (x: RenderParameter?, y: RenderParameter?, z: [RenderParameter]) {
        let longest = axes.enumerated().sorted { ($0.element.values.count, -$0.offset) > ($1.element.values.count, -$1.offset) }.map(\.element)
        func pick(_ asked: String?, _ fallback: Int) -> RenderParameter? {
            if let asked { return asked == "none" ? nil : RenderParameters.named(asked) }
            return longest.indices.contains(fallback) ? RenderParameters.named(longest[fallback].parameter) : nil
        }
        let across = pick(x, 1)
        var down = pick(y, 0)
        if down?.name == across?.name { down = nil }
        let z = axes.compactMap { RenderParameters.named($0.parameter) }.filter { $0.name != across?.name && $0.name != down?.name }
        return (across, down, z)
    }

    /// The `v_outputs` columns to sort a page by: the prompt template when grouping by it, then
    /// Z, then Y, then X.
    static func order(x: RenderParameter?, y: RenderParameter?, z: [RenderParameter], byTemplate: Bool = false) -> [String] {
        (byTemplate ? ["prompt_template"] : []) + z.map(\.name) + [y, x].compactMap { $0?.name }
    }

    init(cards: [OutputCard], x: RenderParameter?, y: RenderParameter?, z: [RenderParameter], byTemplate: Bool = false) {
        self.x = x
        self.y = y
        self.z = z
        self.byTemplate = byTemplate
        let decoder = JSONDecoder()
        var groups: [(template: String?, key: [String], items: [(x: String, y: String, item: OutputCard)])] = []
        for card in cards {
            let record = try? decoder.decode(Provenance.self, from: Data(card.provenance.utf8))
            func label(_ p: RenderParameter?) -> String {
                guard let p else { return "" }
                return record.map { p.label(in: $0) } ?? "?"
            }
            let key = z.map { label($0) }
            let template = byTemplate ? record?.request.promptTemplate : nil
            let item = (x: label(x), y: label(y), item: card)
            if let last = groups.last, last.key == key, last.template == template {
                groups[groups.count - 1].items.append(item)
            } else {
                groups.append((template, key, [item]))
            }
        }
        self.groups = groups.map { group in
            Group(template: group.template, title: zip(z.map(\.name), group.key).map { ($0, $1) }, grid: LabelledGrid(group.items))
        }
    }
}
