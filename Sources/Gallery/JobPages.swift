import Foundation
import RenderQueue

/// A job's page (/jobs/ID) with its actions, and the filtered list of jobs (/jobs?state=...).
enum JobPages {
    /// `preview`: the step of the running job's latest preview, if it has one.
    static func job(_ j: JobDetail, preview: Int? = nil, _ context: PageContext) -> HTML {
        let s = j.summary
        let rows = zip(j.columns, j.values).map { column, value -> HTML in
            "<tr data-column=\"\(column)\"><th>\(column)</th><td class=\"value\">\(value ?? "")</td></tr>"
        }
        let actions = [context.actionForm("/jobs/\(s.jobID)/cancel", label: "Cancel", id: "cancel"),
                       context.actionForm("/jobs/\(s.jobID)/retry", label: "Retry", id: "retry")].compactMap { $0 }
        let thumbs = j.outputs.map { id -> HTML in
            "<figure><a href=\"/outputs/\(id)\"><img src=\"/outputs/\(id)/thumb\" alt=\"image \(id)\"></a><figcaption>#\(id)</figcaption></figure>"
        }
        let sweep: HTML = s.sweepID.map { "<a href=\"/sweeps/\($0)\">sweep \($0)</a> · " } ?? ""
        let body: HTML = """
            <p>\(sweep)<strong id="job-state">\(s.state)</strong> · step \(s.step)/\(s.steps) \(HTML.join(actions))</p>
            \(s.error.map { "<p class=\"failed\" id=\"job-error\">\($0)</p>" as HTML } ?? "")
            \(preview.map { "<figure id=\"job-preview\"><img class=\"preview\" src=\"/jobs/\(s.jobID)/preview.png?step=\($0)\" alt=\"preview of job \(s.jobID)\"><figcaption>preview at step \($0)</figcaption></figure>" as HTML } ?? "")
            <div class="thumbs">\(thumbs)</div>
            <table id="job"><tbody>\(rows)</tbody></table>
            <details><summary>Stored request (JSON)</summary><pre>\(OutputPages.pretty(j.request))</pre></details>
            """
        return Layout.page("Job \(s.jobID)", context, current: "/jobs", body)
    }

    static func list(_ page: QueuePage<JobSummary>, filter: QueueFilter, number: Int, _ context: PageContext) -> HTML {
        let rows = page.items.map { j -> HTML in
            let image: HTML = j.firstOutput.map { "<a href=\"/outputs/\($0)\">image \($0)</a>" } ?? ""
            let sweep: HTML = j.sweepID.map { "<a href=\"/sweeps/\($0)\">\($0)</a>" } ?? ""
            return """
                <tr><td><a href="/jobs/\(j.jobID)">job \(j.jobID)</a></td><td>\(sweep)</td><td>\(j.state)</td>\
                <td>\(j.step)/\(j.steps)</td><td>\(j.seed ?? "")</td><td class="value">\(j.prompt ?? "")</td><td>\(image)</td>\
                <td class="failed">\(j.error ?? "")</td></tr>
                """
        }
        let pages = (page.total + page.page.limit - 1) / page.page.limit
        let body: HTML = """
            \(Filters.form("/jobs", filter))<p class="muted">\(page.total) jobs</p>
            <table><thead><tr><th>job</th><th>sweep</th><th>state</th><th>step</th><th>seed</th><th>prompt</th><th></th><th>error</th></tr></thead>\
            <tbody>\(rows)</tbody></table>\(Layout.pager("/jobs", Filters.query(filter), page: number, pages: pages))
            """
        return Layout.page("Jobs", context, current: "/jobs", body)
    }
}

/// The filter form of the lists: state, prompt text, seed, model text, sweep.
enum Filters {
    static func parse(_ form: FormData) -> QueueFilter {
        QueueFilter(state: form["state"], prompt: form["prompt"], seed: form.integer("seed"), model: form["model"], sweep: form.integer("sweep"))
    }

    static func query(_ f: QueueFilter) -> [(String, String?)] {
        [("state", f.state), ("prompt", f.prompt), ("seed", f.seed.map(String.init)), ("model", f.model), ("sweep", f.sweep.map(String.init))]
    }

    static func form(_ action: String, _ f: QueueFilter) -> HTML {
        let states = ([""] + QueueFilter.states).map { s -> HTML in
            "<option value=\"\(s)\"\(HTML(raw: s == (f.state ?? "") ? " selected" : ""))>\(s.isEmpty ? "any" : s)</option>"
        }
        return """
            <form class="filters" method="get" action="\(action)">\
            <label>State <select name="state" id="filter-state">\(states)</select></label>\
            <label>Prompt <input name="prompt" id="filter-prompt" value="\(f.prompt ?? "")"></label>\
            <label>Seed <input name="seed" id="filter-seed" inputmode="numeric" size="10" value="\(f.seed.map(String.init) ?? "")"></label>\
            <label>Model <input name="model" id="filter-model" value="\(f.model ?? "")"></label>\
            <label>Sweep <input name="sweep" id="filter-sweep" inputmode="numeric" size="6" value="\(f.sweep.map(String.init) ?? "")"></label>\
            <button type="submit">Filter</button></form>
            """
    }
}
