import Foundation
import Hummingbird
import RenderQueue

/// The pages: /, /events, /sweeps, /sweeps/ID, /outputs, /outputs/ID, /jobs, /jobs/ID,
/// /jobs/ID/preview.png, /compare.
extension GalleryServer {
    func addPages(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ -> Response in
            let overview = try await self.reader.overview()
            return Responses.html(QueuePages.queue(overview, self.page))
        }
        router.get("/events") { request, _ -> Response in try await self.events(request) }
        router.get("/sweeps") { request, _ -> Response in
            let (number, page) = GalleryServer.page(FormData(request.uri.query), size: 50)
            let sweeps = try await self.reader.sweeps(page)
            return Responses.html(QueuePages.sweeps(sweeps, number: number, self.page))
        }
        router.get("/sweeps/:id") { request, context -> Response in try await self.sweep(request, context) }
        router.get("/outputs") { request, _ -> Response in
            let form = FormData(request.uri.query)
            let filter = Filters.parse(form), (number, page) = GalleryServer.page(form, size: 60)
            let outputs = try await self.reader.outputs(filter, page: page)
            return Responses.html(OutputPages.list(outputs, filter: filter, number: number, self.page))
        }
        router.get("/jobs") { request, _ -> Response in
            let form = FormData(request.uri.query)
            let filter = Filters.parse(form), (number, page) = GalleryServer.page(form, size: 100)
            let jobs = try await self.reader.jobs(filter, page: page)
            return Responses.html(JobPages.list(jobs, filter: filter, number: number, self.page))
        }
        router.get("/jobs/:id") { _, context -> Response in
            let id = try GalleryServer.id(context, "job")
            guard let job = try await self.reader.job(id) else { throw PageError.notFound("job \(id) does not exist") }
            let preview = job.summary.state == "running" ? try await self.reader.jobPreview(id) : nil
            return Responses.html(JobPages.job(job, preview: preview?.step, self.page))
        }
        router.get("/jobs/:id/preview.png") { _, context -> Response in
            let id = try GalleryServer.id(context, "job")
            guard let preview = try await self.reader.jobPreview(id) else {
                throw PageError.notFound("job \(id) has no preview: start its worker with kiln work --preview-every N")
            }
            return Responses.bytes(preview.png, contentType: "image/png", cacheControl: "no-store")
        }
        router.get("/compare") { request, _ -> Response in
            let form = FormData(request.uri.query)
            guard let a = form["a"].flatMap({ Identifier.parse(Substring($0)) }), let b = form["b"].flatMap({ Identifier.parse(Substring($0)) }) else {
                throw PageError.badRequest("compare needs two image ids: /compare?a=ID&b=ID")
            }
            let first = try await self.reader.output(a), second = try await self.reader.output(b)
            guard let first else { throw PageError.notFound("image \(a) does not exist") }
            guard let second else { throw PageError.notFound("image \(b) does not exist") }
            return Responses.html(OutputPages.compare(first, second, self.page))
        }
    }

    func sweep(_ http: Request, _ context: BasicRequestContext) async throws -> Response {
        let id = try GalleryServer.id(context, "sweep")
        let form = FormData(http.uri.query)
        let per = Int(min(max(form.integer("per") ?? Int64(options.gridPageSize), 1), Int64(PageRequest.maxLimit)))
        let (number, request) = GalleryServer.page(form, size: per)
        let (x, y) = (form["x"], form["y"])
        guard [nil, "none", "prompt_template"].contains(form["group"]) else {
            throw PageError.badRequest("group takes prompt_template or none")
        }
        let byTemplate = form["group"] == "prompt_template"
        guard let sweep = try await reader.sweep(id) else { throw PageError.notFound("sweep \(id) does not exist") }
        let axes = try await reader.sweepAxes(id)
        let chosen = GridModel.axes(axes, x: x, y: y)
        let order = GridModel.order(x: chosen.x, y: chosen.y, z: chosen.z, byTemplate: byTemplate)
        let cards = try await reader.sweepPage(id, orderedBy: order, page: request)
        let model = GridModel(cards: cards.items, x: chosen.x, y: chosen.y, z: chosen.z, byTemplate: byTemplate)
        return Responses.html(SweepPage.render(sweep, axes: axes, model: model, cards: cards,
                                               query: SweepPage.Query(x: x, y: y, page: number, per: per), page))
    }

    /// The live queue: server-sent events (an update every `eventInterval` seconds for
    /// `eventStreamSeconds`, then the browser reconnects), or with `poll=1` one update as JSON
    /// for the page's polling fallback.
    func events(_ request: Request) async throws -> Response {
        if FormData(request.uri.query)["poll"] != nil {
            return try Responses.json(QueuePages.LiveStatus(try await reader.overview()))
        }
        let reader = self.reader, interval = max(options.eventInterval, 0.1), seconds = max(options.eventStreamSeconds, 0)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let body = ResponseBody { writer in
            let start = Date()
            try await writer.write(ByteBuffer(string: "retry: 5000\n\n"))
            while true {
                let status = QueuePages.LiveStatus(try await reader.overview())
                let data = try JSONEncoder().encode(status)
                try await writer.write(ByteBuffer(string: "data: " + String(decoding: data, as: UTF8.self) + "\n\n"))
                if Date().timeIntervalSince(start) + interval > seconds { break }
                try await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
