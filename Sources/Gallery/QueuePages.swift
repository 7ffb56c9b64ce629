import Foundation
import RenderQueue

/// The queue page (/) and what its live updates send (/events): counts by state, running jobs
/// with step, steps and ETA, steps left and the queue's ETA.
enum QueuePages {
    /// One update of the live page, as JSON: the figures already formatted for display.
    struct LiveStatus: Codable, Sendable {
        struct Job: Codable, Sendable {
            let job: Int64, sweep: Int64?, step: Int, steps: Int, worker: String?, eta: String
        }
        let counts: [String: Int]
        let running: [Job]
        let stepsLeft: Int
        let eta: String
        let paused: Bool

        init(_ o: QueueOverview) {
            counts = o.counts
            running = o.running.map { Job(job: $0.jobID, sweep: $0.sweepID, step: $0.step, steps: $0.steps, worker: $0.worker,
                                          eta: Layout.duration($0.etaSeconds)) }
            stepsLeft = o.stepsLeft
            eta = Layout.duration(o.etaSeconds)
            paused = o.paused
        }
    }

    static func queue(_ o: QueueOverview, _ context: PageContext) -> HTML {
        let states = QueueFilter.states.map { state -> HTML in
            "<tr><th><a href=\"/jobs\(Link.query([("state", state)]))\">\(state)</a></th><td id=\"count-\(state)\">\(o.counts[state] ?? 0)</td></tr>"
        }
        let running = o.running.map { r -> HTML in
            """
            <tr><td><a href="/jobs/\(r.jobID)">job \(r.jobID)</a></td><td><progress value="\(r.step)" max="\(max(r.steps, 1))"></progress> \
            \(r.step)/\(r.steps)</td><td>\(r.worker)</td><td>\(Layout.duration(r.etaSeconds))</td>\
            <td><img class="preview" src="/jobs/\(r.jobID)/preview.png?step=\(r.step)" alt=""></td></tr>
            """
        }
        let body: HTML = """
            <p id="live" class="muted"><span id="queue-paused" class="banner-text">\(o.paused ? "paused" : "")</span> \
            <span id="live-state">live</span></p>
            <table class="counts"><tbody>\(states)</tbody></table>
            <p>Steps left: <strong id="steps-left">\(o.stepsLeft)</strong> · queue ETA <strong id="queue-eta">\(Layout.duration(o.etaSeconds))</strong></p>
            <h2>Running</h2>
            <table><thead><tr><th>job</th><th>step</th><th>worker</th><th>ETA</th><th>preview</th></tr></thead><tbody id="running-jobs">\(running)</tbody></table>
            """
        return Layout.page("Queue", context, current: "/", body)
    }

    /// The sweeps list (/sweeps): progress bars, image counts, pause state.
    static func sweeps(_ page: QueuePage<SweepSummary>, number: Int, _ context: PageContext) -> HTML {
        let rows = page.items.map { s -> HTML in
            let toggle = context.actionForm("/sweeps/\(s.sweepID)/pause", label: s.paused ? "Resume" : "Pause", id: "pause-\(s.sweepID)") ?? ""
            return """
                <tr><td><a href="/sweeps/\(s.sweepID)">sweep \(s.sweepID)</a></td><td>\(s.name ?? "")</td>\
                <td>\(Layout.progress(done: s.finished, failed: s.counts["failed"] ?? 0, total: s.jobs))</td>\
                <td><a href="/outputs\(Link.query([("sweep", String(s.sweepID))]))">\(s.outputs) images</a></td>\
                <td>\(s.paused ? "paused" : "")</td><td class="muted">\(s.createdAt)</td><td>\(toggle)</td></tr>
                """
        }
        let pages = (page.total + page.page.limit - 1) / page.page.limit
        let body: HTML = page.items.isEmpty ? "<p>No sweeps yet: add one with <code>kiln sweep</code>.</p>" : """
            <table class="sweeps"><thead><tr><th>sweep</th><th>name</th><th>jobs finished</th><th>images</th><th></th><th>added</th><th></th>\
            </tr></thead><tbody>\(rows)</tbody></table>\(Layout.pager("/sweeps", [], page: number, pages: pages))
            """
        return Layout.page("Sweeps", context, current: "/sweeps", body)
    }
}
