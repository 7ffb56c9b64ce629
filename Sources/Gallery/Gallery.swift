import Foundation
import Hummingbird
import Logging
import RenderQueue
import ServiceLifecycle

/// `kiln serve`: a web gallery over a queue, read through `GalleryReader` only (and, with
/// `--allow-actions`, changed through `GalleryActions`: cancel, retry, pause/resume), async
/// throughout. See README.md beside this file for the routes and the security rules.
public enum Gallery {
    /// The server for `reader` (and `actions`, used only when `options.allowActions`), checked
    /// by `options.validate()`. `onRunning` is told the port it listens on (useful with port 0).
    /// The reader runs as one of the application's services (PostgreSQL's connection pool), so
    /// `runService()` starts and stops it with the server.
    public static func application(reader: any GalleryReader, actions: (any GalleryActions)?, options: GalleryOptions,
                                   onRunning: @escaping @Sendable (Int) -> Void = { _ in }) throws -> some ApplicationProtocol {
        try options.validate()
        let server = GalleryServer(reader: reader, actions: options.allowActions ? actions : nil, options: options)
        var logger = Logger(label: "kiln.serve")
        logger.logLevel = .warning
        return Application(router: server.router(), server: GuardedHTTP1Channel.builder(options),
                           configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
                           services: [ReaderService(reader: reader)],
                           onServerRunning: { channel in onRunning(channel.localAddress?.port ?? options.port) }, logger: logger)
    }
}

/// The reader's `run()` as a service: it runs until the server shuts down (a reader with
/// nothing to run waits for that), and the service group cancels it then.
struct ReaderService: Service {
    let reader: any GalleryReader

    func run() async throws {
        await cancelWhenGracefulShutdown { await reader.run() }
        try await gracefulShutdown()
    }
}

/// What the routes share: the queue, the thumbnail cache, the access rules, the options.
final class GalleryServer: Sendable {
    let reader: any GalleryReader
    let actions: (any GalleryActions)?
    let thumbnails: ThumbnailCache
    let images: StoredImages
    let access: AccessControl
    let options: GalleryOptions
    let page: PageContext

    init(reader: any GalleryReader, actions: (any GalleryActions)?, options: GalleryOptions) {
        self.reader = reader
        self.actions = actions
        thumbnails = ThumbnailCache(side: options.thumbnailSide, maxBytes: options.thumbnailCacheBytes)
        images = StoredImages(outputFolders: options.outputFolders)
        access = AccessControl(token: options.token, csrf: AccessControl.randomSecret())
        self.options = options
        page = PageContext(queueName: reader.displayName, actionsEnabled: actions != nil, csrf: access.csrf)
    }

    func router() -> Router<BasicRequestContext> {
        // HEAD is answered on every route as GET is, without the body (an event stream never starts).
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: GalleryMiddleware<BasicRequestContext>(access: access, queueName: page.queueName))
        addPages(to: router)
        addImages(to: router)
        addActions(to: router)
        router.get("/assets/:name") { _, context -> Response in
            guard let name = context.parameters.get("name"), let asset = Assets.named(Substring(name)) else { throw PageError.notFound("no such asset") }
            return Responses.bytes(Data(asset.body.utf8), contentType: asset.contentType, cacheControl: "private, max-age=3600")
        }
        return router
    }

    /// The id in route parameter `id`, or a 404 naming what was asked for.
    static func id(_ context: BasicRequestContext, _ what: String) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Identifier.parse(Substring(text)) else {
            throw PageError.notFound("no such \(what): ids are positive whole numbers")
        }
        return id
    }

    /// The page asked for with `page=N` (1 when absent or not a number), as a `PageRequest`.
    static func page(_ form: FormData, size: Int) -> (number: Int, request: PageRequest) {
        let number = Int(min(max(form.integer("page") ?? 1, 1), Int64(PageRequest.maxOffset)))
        let request = PageRequest(limit: size, offset: (number - 1).multipliedReportingOverflow(by: size).partialValue)
        return (number, request)
    }
}
