import Foundation
import Imaging
import RenderQueue
import RenderRecord

/// A sweep's grid (/sweeps/ID?x=PARAM&y=PARAM&group=prompt_template&page=N&per=N): the axis
/// picker (the parameters the sweep varies, as its spec lists them), then one labelled table per
/// Z combination, each cell linking to its image page; grouped by prompt template, each
/// template heads its tables and each image is labelled with its expansion.
enum SweepPage {
    struct Query {
        let x: String?, y: String?, page: Int, per: Int
    }

    static func render(_ sweep: SweepSummary, axes: [SweepAxis], model: GridModel, cards: QueuePage<OutputCard>, query: Query,
                       _ context: PageContext) -> HTML {
        let title = "Sweep \(sweep.sweepID)" + (sweep.name.map { ": \($0)" } ?? "")
        let toggle = context.actionForm("/sweeps/\(sweep.sweepID)/pause", label: sweep.paused ? "Resume" : "Pause", id: "pause") ?? ""
        let counts = QueueFilter.states.compactMap { s -> String? in sweep.counts[s].map { "\($0) \(s)" } }.joined(separator: " · ")
        var body: HTML = """
            <p>\(Layout.progress(done: sweep.finished, failed: sweep.counts["failed"] ?? 0, total: sweep.jobs)) \
            <span class="muted">\(counts)\(sweep.paused ? " · paused" : "")</span> \(toggle)</p>
            \(picker(sweep.sweepID, axes: axes, model: model, per: query.per))
            """
        if cards.items.isEmpty {
            body += "<p>No finished images in this sweep yet.</p>"
        }
        var template: String?? = .none
        for (n, group) in model.groups.enumerated() {
            if model.byTemplate && template != .some(group.template) {
                template = .some(group.template)
                body += group.template.map { t -> HTML in "<h2 class=\"template\">Template <code>\(t)</code></h2>" }
                    ?? "<h2 class=\"template\">Prompts without a template</h2>"
            }
            if !group.title.isEmpty {
                body += "<h2 class=\"z-label\">\(group.title.map { "\($0.0)=\($0.1)" }.joined(separator: ", "))</h2>"
            }
            body += table(group.grid, model: model, index: n)
        }
        let pages = (cards.total + cards.page.limit - 1) / cards.page.limit
        let keep: [(String, String?)] = [("x", model.x?.name ?? "none"), ("y", model.y?.name ?? "none"),
                                         ("group", model.byTemplate ? "prompt_template" : nil), ("per", String(query.per))]
        body += Layout.pager("/sweeps/\(sweep.sweepID)", keep, page: query.page, pages: pages)
        body += "<p class=\"muted\">\(cards.total) images · <a href=\"/outputs\(Link.query([("sweep", String(sweep.sweepID))]))\">as a list</a></p>"
        return Layout.page(title, context, current: "/sweeps", body)
    }

    static func picker(_ id: Int64, axes: [SweepAxis], model: GridModel, per: Int) -> HTML {
        func select(_ name: String, _ chosen: RenderParameter?) -> HTML {
            var names = axes.map(\.parameter)
            if let chosen, !names.contains(chosen.name) { names.append(chosen.name) }
            let options = (["none"] + names).map { n -> HTML in
                let selected: HTML = n == (chosen?.name ?? "none") ? " selected" : ""
                return "<option value=\"\(n)\"\(selected)>\(n)</option>"
            }
            return "<label>\(name.uppercased()) <select name=\"\(name)\" id=\"axis-\(name)\">\(options)</select></label>"
        }
        let grouping = ["none", "prompt_template"].map { g -> HTML in
            let selected: HTML = (g == "prompt_template") == model.byTemplate ? " selected" : ""
            return "<option value=\"\(g)\"\(selected)>\(g)</option>"
        }
        let varying = axes.map { a -> HTML in "<li><strong>\(a.parameter)</strong>: \(a.values.prefix(20).joined(separator: ", "))\(a.values.count > 20 ? " …" : "")</li>" }
        return """
            <form class="axes" method="get" action="/sweeps/\(id)">\(select("x", model.x))\(select("y", model.y))\
            <label>Group <select name="group" id="group">\(grouping)</select></label>\
            <input type="hidden" name="per" value="\(per)"><button type="submit">Show</button></form>
            <details><summary>Parameters this sweep varies (\(axes.count))</summary><ul>\(varying)</ul></details>
            """
    }

    static func table(_ grid: LabelledGrid<OutputCard>, model: GridModel, index: Int) -> HTML {
        let xName = model.x?.name ?? "", yName = model.y?.name ?? ""
        func label(_ name: String, _ value: String) -> String { name.isEmpty ? "" : "\(name)=\(value)" }
        // "name=value", breakable after the "=" when the column is narrow.
        func heading(_ name: String, _ value: String) -> HTML { name.isEmpty ? "" : "\(name)=<wbr>\(value)" }
        let head = grid.xs.map { x -> HTML in "<th scope=\"col\" class=\"x-label\" data-value=\"\(x)\">\(heading(xName, x))</th>" }
        let rows = grid.ys.enumerated().map { j, y -> HTML in
            let cells = grid.xs.indices.map { i -> HTML in
                let items = grid.items(x: i, y: j)
                let links = items.map { c -> HTML in
                    let alt = "image \(c.outputID): " + [label(xName, grid.xs[i]), label(yName, y)].filter { !$0.isEmpty }.joined(separator: ", ")
                    let expansion: HTML = model.byTemplate ? "<span class=\"expansion\">\(c.prompt ?? "")</span>" : ""
                    return """
                        <a href="/outputs/\(c.outputID)" data-output="\(c.outputID)"><img src="/outputs/\(c.outputID)/thumb" alt="\(alt)">\(expansion)</a>
                        """
                }
                return "<td\(HTML(raw: items.count > 1 ? " class=\"many\"" : ""))>\(links)</td>"
            }
            return "<tr><th scope=\"row\" class=\"y-label\" data-value=\"\(y)\">\(heading(yName, y))</th>\(cells)</tr>"
        }
        return """
            <table class="grid" id="grid-\(index)" data-x="\(xName)" data-y="\(yName)"><thead><tr><th></th>\(head)</tr></thead>\
            <tbody>\(rows)</tbody></table>
            """
    }
}
