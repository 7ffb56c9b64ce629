import Foundation

/// What every page needs to know about the server: the queue's name, whether actions are on
/// and the CSRF token their forms carry.
struct PageContext: Sendable {
    let queueName: String
    let actionsEnabled: Bool
    let csrf: String

    /// A POST form with one button, carrying the CSRF token; nil when actions are off.
    func actionForm(_ path: String, label: String, id: String) -> HTML? {
        guard actionsEnabled else { return nil }
        return """
            <form method="post" action="\(path)" class="action"><input type="hidden" name="csrf" value="\(csrf)">\
            <button type="submit" id="\(id)">\(label)</button></form>
            """
    }
}

/// The frame of every page: head with the embedded stylesheet and script (served from
/// /assets, nothing from the network), navigation, content, footer.
enum Layout {
    static func page(_ title: String, _ context: PageContext, current: String, _ body: HTML) -> HTML {
        let items: [(String, String)] = [("/", "Queue"), ("/sweeps", "Sweeps"), ("/outputs", "Images"), ("/jobs", "Jobs")]
        let nav = HTML.join(items.map { path, name in
            let here = path == current ? " aria-current=\"page\"" : ""
            return "<a href=\"\(path)\"\(HTML(raw: here))>\(name)</a>"
        })
        let mode = context.actionsEnabled ? "actions on" : "read-only"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(title) · kiln</title><link rel="stylesheet" href="/assets/gallery.css"><script src="/assets/gallery.js" defer></script>
            </head><body><header><span class="brand">kiln</span><nav>\(nav)</nav></header>
            <main><h1>\(title)</h1>
            \(body)
            </main><footer>\(context.queueName) · \(mode)</footer></body></html>
            """
    }

    /// A progress bar of `finished` out of `total` jobs, with the failed ones counted apart.
    static func progress(done: Int, failed: Int = 0, total: Int) -> HTML {
        let failures: HTML = failed > 0 ? " <span class=\"failed\">\(failed) failed</span>" : ""
        return "<progress value=\"\(done)\" max=\"\(max(total, 1))\">\(done)/\(total)</progress> <span class=\"count\">\(done)/\(total)</span>\(failures)"
    }

    /// Seconds as "1 h 02 min", "3 min 05 s" or "12 s"; "–" when unknown.
    static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "–" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return "\(s) s"
    }

    /// Links to the previous and next page of a list, keeping the other query items.
    static func pager(_ path: String, _ query: [(String, String?)], page: Int, pages: Int) -> HTML {
        guard pages > 1 else { return "" }
        func link(_ n: Int, _ text: String, _ rel: String) -> HTML {
            let href = path + Link.query(query + [("page", String(n))])
            return "<a href=\"\(href)\" rel=\"\(rel)\">\(text)</a>"
        }
        let previous: HTML = page > 1 ? link(page - 1, "← previous", "prev") : ""
        let next: HTML = page < pages ? link(page + 1, "next →", "next") : ""
        return "<nav class=\"pager\">\(previous) <span>page \(page) of \(pages)</span> \(next)</nav>"
    }
}
