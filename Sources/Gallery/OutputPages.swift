import Foundation
import RenderQueue
import RenderRecord

/// An image's page (/outputs/ID, with the job's input pictures: `InputImages`), two images side by side (/compare?a=ID&b=ID) and the
/// filtered list of images (/outputs?prompt=&seed=&model=&sweep=&state=).
enum OutputPages {
    static func image(_ detail: OutputDetail, _ context: PageContext) -> HTML {
        let card = detail.card
        let record = try? JSONDecoder().decode(Provenance.self, from: Data(card.provenance.utf8))
        let file = StoredOutput.fileName(jobID: card.jobID, imageIndex: card.imageIndex)
        let command: HTML = record.map { r in
            let note: HTML = r.request.images > 1 ? " <span class=\"muted\">(writes out-0.png … ; this is out-\(card.imageIndex).png)</span>" : ""
            return """
                <h2>Reproduce</h2><div class="command"><pre id="render-command">\(RenderCommandLine.make(r, config: detail.config))</pre>\
                <button type="button" data-copy="render-command">Copy</button></div>\(note)
                """
        } ?? "<p class=\"failed\">The provenance of this image does not decode; no command can be made from it.</p>"
        let sweep: HTML = card.sweepID.map { "· <a href=\"/sweeps/\($0)\">sweep \($0)</a>" } ?? ""
        let width = Int(detail.value("width") ?? "") ?? 512, height = Int(detail.value("height") ?? "") ?? 512
        let shown = width >= 512 ? (width, height) : (512, max(1, height * 512 / max(width, 1)))
        let body: HTML = """
            <p><a href="/jobs/\(card.jobID)">job \(card.jobID)</a>, image \(card.imageIndex) \(sweep) · \
            <a href="/outputs/\(card.outputID).png?download=1" download="\(file)" id="download">Download PNG</a> (with its text chunks)</p>
            <div class="image-page"><div class="picture"><img id="full" src="/outputs/\(card.outputID).png" alt="image \(card.outputID)" \
            width="\(shown.0)" height="\(shown.1)"></div>
            <div class="facts">\(summary(detail))\(watermark(detail))\(command)
            <form class="inline" method="get" action="/compare"><input type="hidden" name="a" value="\(card.outputID)">\
            <label>Compare with image <input name="b" inputmode="numeric" size="8" id="compare-with"></label> <button type="submit">Compare</button></form>
            </div></div>\(record.map { InputImages.section($0.request) } ?? "")
            <h2>Provenance (every column of v_outputs)</h2>\(table(detail, id: "provenance"))
            <details><summary>Full provenance (JSON)</summary><pre id="provenance-json">\(pretty(card.provenance))</pre></details>
            """
        return Layout.page("Image \(card.outputID)", context, current: "/outputs", body)
    }

    /// The watermark bits written and read, and whether they agree.
    static func watermark(_ d: OutputDetail) -> HTML {
        let written = d.value("watermark_bits"), read = d.value("watermark_read")
        guard let written else {
            return "<p id=\"watermark\">Watermark: none written (off, or the image is under 256 pixels); read <code>\(read ?? "nothing")</code></p>"
        }
        let verdict = written == read ? "read back as written" : "read differs from what was written"
        return "<p id=\"watermark\">Watermark: written <code>\(written)</code>, read <code>\(read ?? "nothing")</code> (\(verdict))</p>"
    }

    /// The facts most looked for, beside the picture: prompts, seed, sampler, sizes, strengths,
    /// LoRAs, render time, worker.
    static func summary(_ d: OutputDetail) -> HTML {
        let names = ["prompt", "prompt_2", "negative_prompt", "negative_prompt_2", "seed", "scheduler", "steps", "guidance",
                     "guidance_rescale", "mode", "strength", "denoising_start", "denoising_end", "refiner", "high_noise_frac",
                     "refiner_strength", "loras", "embeddings", "original_size", "target_size", "crop_top_left", "image", "mask",
                     "model", "render_seconds", "worker", "attempt", "created_at"]
        var rows: [HTML] = []
        if let w = d.value("width"), let h = d.value("height") { rows.append("<tr><th>size</th><td>\(w)x\(h)</td></tr>") }
        // Values that only restate a default are left to the full table below.
        let defaults: [String: String] = ["guidance_rescale": "0", "crop_top_left": "[0,0]"]
        let refinerOnly: Set<String> = ["high_noise_frac", "refiner_strength"]
        for name in names {
            guard let value = d.value(name), defaults[name] != value, !(refinerOnly.contains(name) && d.value("refiner") == nil) else { continue }
            let shown = name == "render_seconds" ? (Double(value).map { String(format: "%.2f s", $0) } ?? value) : value
            rows.append("<tr data-summary=\"\(name)\"><th>\(name)</th><td class=\"value\">\(shown)</td></tr>")
        }
        return "<table id=\"summary\"><tbody>\(rows)</tbody></table>"
    }

    /// Every `v_outputs` column, one row each; `others` marks the rows whose value differs.
    static func table(_ d: OutputDetail, id: String, others: OutputDetail? = nil) -> HTML {
        let rows = zip(d.columns, d.values).map { column, value -> HTML in
            let differs = others.map { $0.value(column) != value } ?? false
            return "<tr data-column=\"\(column)\"\(HTML(raw: differs ? " class=\"differs\"" : ""))><th>\(column)</th><td class=\"value\">\(value ?? "")</td></tr>"
        }
        return "<table id=\"\(id)\"><tbody>\(rows)</tbody></table>"
    }

    static func pretty(_ json: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) else { return json }
        return String(decoding: data, as: UTF8.self)
    }

    static func compare(_ a: OutputDetail, _ b: OutputDetail, _ context: PageContext) -> HTML {
        func side(_ d: OutputDetail, _ other: OutputDetail, _ name: String) -> HTML {
            """
            <section><h2><a href="/outputs/\(d.card.outputID)">image \(d.card.outputID)</a></h2>\
            <img src="/outputs/\(d.card.outputID).png" alt="image \(d.card.outputID)" id="compare-\(name)">\
            \(table(d, id: "provenance-\(name)", others: other))</section>
            """
        }
        let body: HTML = "<p class=\"muted\">Rows whose values differ are marked.</p><div class=\"compare\">\(side(a, b, "a"))\(side(b, a, "b"))</div>"
        return Layout.page("Compare \(a.card.outputID) and \(b.card.outputID)", context, current: "/outputs", body)
    }

    static func list(_ page: QueuePage<OutputCard>, filter: QueueFilter, number: Int, _ context: PageContext) -> HTML {
        let figures = page.items.map { c -> HTML in
            """
            <figure><a href="/outputs/\(c.outputID)"><img src="/outputs/\(c.outputID)/thumb" alt="image \(c.outputID)"></a>\
            <figcaption>#\(c.outputID) · seed \(c.seed ?? "?") · \(c.prompt ?? "")</figcaption></figure>
            """
        }
        let pages = (page.total + page.page.limit - 1) / page.page.limit
        let body: HTML = """
            \(Filters.form("/outputs", filter))<p class="muted">\(page.total) images</p>
            <div class="thumbs">\(figures)</div>\(Layout.pager("/outputs", Filters.query(filter), page: number, pages: pages))
            """
        return Layout.page("Images", context, current: "/outputs", body)
    }
}
