import Foundation
import Hummingbird
import RenderQueue

/// The actions, POSTs only: /jobs/ID/cancel, /jobs/ID/retry and /sweeps/ID/pause (pause when
/// running, resume when paused). Each needs `--allow-actions` (else 403 and nothing is opened
/// for writing) and the page's CSRF token (else 403); then it acts and sends the browser back.
extension GalleryServer {
    func addActions(to router: Router<BasicRequestContext>) {
        router.post("/jobs/:id/cancel") { request, context -> Response in
            let id = try GalleryServer.id(context, "job")
            return try await self.act(request, job: id) { actions in _ = try await actions.cancel(JobSelection(jobs: [id])) }
        }
        router.post("/jobs/:id/retry") { request, context -> Response in
            let id = try GalleryServer.id(context, "job")
            return try await self.act(request, job: id) { actions in _ = try await actions.retry(JobSelection(jobs: [id])) }
        }
        router.post("/sweeps/:id/pause") { request, context -> Response in
            let id = try GalleryServer.id(context, "sweep")
            let actions = try await self.checkAction(request)
            guard let sweep = try await self.reader.sweep(id) else { throw PageError.notFound("sweep \(id) does not exist") }
            try await actions.setPaused(!sweep.paused, sweep: id)
            return Responses.redirect("/sweeps/\(id)")
        }
    }

    func act(_ request: Request, job id: Int64, _ body: (any GalleryActions) async throws -> Void) async throws -> Response {
        let actions = try await checkAction(request)
        guard try await reader.job(id) != nil else { throw PageError.notFound("job \(id) does not exist") }
        try await body(actions)
        return Responses.redirect("/jobs/\(id)")
    }

    /// Bytes of an action's form read at most; a larger body is answered 413.
    static let maxFormBytes = 16_384

    /// The actions, unless they are off or the form lacks the CSRF token (then 403).
    func checkAction(_ request: Request) async throws -> any GalleryActions {
        guard let actions else {
            throw PageError.forbidden("actions are off: start kiln serve with --allow-actions to cancel, retry or pause")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: GalleryServer.maxFormBytes)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            throw PageError(status: .contentTooLarge, message: "the form is over \(GalleryServer.maxFormBytes) bytes: actions send only their CSRF token")
        }
        if let why = access.checkAction(request, form: FormData(String(buffer: body))) { throw PageError.forbidden(why) }
        return actions
    }
}
