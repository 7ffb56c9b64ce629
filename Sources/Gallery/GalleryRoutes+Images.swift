import Foundation
import Hummingbird
import RenderQueue

/// /outputs/ID (the image's page), /outputs/ID.png (the stored PNG, byte for byte),
/// /outputs/ID/thumb (its thumbnail) and /inputs/SHA256 (a job's input picture). A PNG written to
/// a folder is read through `StoredImages`' checks (inside an --output-folder, a regular file,
/// the stored SHA-256).
extension GalleryServer {
    func addImages(to router: Router<BasicRequestContext>) {
        router.get("/outputs/:id") { request, context -> Response in
            let text = context.parameters.get("id") ?? ""
            if text.hasSuffix(".png") {
                guard let id = Identifier.parse(Substring(text.dropLast(4))) else { throw PageError.notFound("no such image") }
                return try await self.png(id, request)
            }
            let id = try GalleryServer.id(context, "image")
            guard let detail = try await self.reader.output(id) else { throw PageError.notFound("image \(id) does not exist") }
            return Responses.html(OutputPages.image(detail, self.page))
        }
        router.get("/outputs/:id/thumb") { request, context -> Response in
            try await self.thumbnail(try GalleryServer.id(context, "image"), request)
        }
        router.get("/inputs/:hash") { request, context -> Response in
            try await self.input(Substring(context.parameters.get("hash") ?? ""), request)
        }
    }

    /// A job's input picture (image, mask or control image) by its SHA-256, as the user gave it.
    /// Only bytes some job's request names as such are served, never any other stored blob.
    func input(_ hash: Substring, _ request: Request) async throws -> Response {
        guard InputImages.isHash(hash) else {
            throw PageError.badRequest("an input is named by its SHA-256: 64 lowercase hex digits, as /inputs/SHA256")
        }
        let sha256 = String(hash), etag = "\"\(sha256)\""
        if request.headers[.ifNoneMatch] == etag { return Responses.notModified(etag: etag) }
        guard let data = try await reader.inputImage(sha256) else {
            throw PageError.notFound("no job has an input image, mask or control image with SHA-256 \(sha256)")
        }
        guard let type = InputImages.contentType(of: data) else {
            throw PageError.notFound("input \(sha256) is neither a PNG nor a JPEG, so it is not shown")
        }
        return Responses.bytes(data, contentType: type, cacheControl: "private, max-age=86400", etag: etag)
    }

    /// The stored PNG exactly as kept (text chunks and all); `download=1` asks the browser to save it.
    func png(_ id: Int64, _ request: Request) async throws -> Response {
        guard let stored = try await reader.outputImage(id) else { throw PageError.notFound("image \(id) does not exist") }
        let etag = "\"\(stored.sha256)\""
        if request.headers[.ifNoneMatch] == etag { return Responses.notModified(etag: etag) }
        let images = self.images
        let data = try await ImageWork.run { try images.bytes(of: stored, id: id) }
        var response = Responses.bytes(data, contentType: "image/png", cacheControl: "private, max-age=86400", etag: etag)
        let disposition = FormData(request.uri.query)["download"] != nil ? "attachment" : "inline"
        response.headers[.contentDisposition] = "\(disposition); filename=\"\(stored.exportName)\""
        return response
    }

    /// The thumbnail, from the cache or made now. Outputs are never rewritten once stored, so
    /// the cache is keyed by output id.
    func thumbnail(_ id: Int64, _ request: Request) async throws -> Response {
        let key = String(id), etag = "\"thumb-\(id)-\(thumbnails.side)\""
        if request.headers[.ifNoneMatch] == etag { return Responses.notModified(etag: etag) }
        if let cached = thumbnails.cached(key) {
            return Responses.bytes(cached, contentType: "image/png", cacheControl: "private, max-age=86400", etag: etag)
        }
        guard let stored = try await reader.outputImage(id) else { throw PageError.notFound("image \(id) does not exist") }
        let thumbnails = self.thumbnails, images = self.images
        let data = try await ImageWork.run {
            let png = try images.bytes(of: stored, id: id)
            do {
                return try thumbnails.make(from: png, name: "image \(id)")
            } catch let error as PageError {
                throw error
            } catch {
                throw PageError(status: .internalError, message: "image \(id) cannot be read: \(error)")
            }
        }
        thumbnails.store(key, data)
        return Responses.bytes(data, contentType: "image/png", cacheControl: "private, max-age=86400", etag: etag)
    }
}
