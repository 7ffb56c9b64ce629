import Foundation
import HTTPTypes
import Hummingbird
import RenderQueue

/// The responses the gallery sends, each with the headers that keep a page from loading or
/// running anything that is not the gallery's own (see `securityHeaders`).
enum Responses {
    static func status(_ s: HTTPStatus) -> HTTPResponse.Status { HTTPResponse.Status(code: s.rawValue) }

    static func html(_ page: HTML, status: HTTPStatus = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: self.status(status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: page.raw)))
    }

    static func bytes(_ data: Data, contentType: String, cacheControl: String, etag: String? = nil) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = cacheControl
        if let etag { headers[.eTag] = etag }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func json<T: Encodable>(_ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return bytes(try encoder.encode(value), contentType: "application/json", cacheControl: "no-store")
    }

    static func redirect(_ path: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = path
        return Response(status: .seeOther, headers: headers)
    }

    static func notModified(etag: String) -> Response {
        var headers = HTTPFields()
        headers[.eTag] = etag
        return Response(status: .notModified, headers: headers)
    }

    /// An error page: the status and one line saying why, escaped; the queue's name in the
    /// footer only when given (never to a client that has not shown the token).
    static func error(_ status: HTTPStatus, _ why: String, queueName: String?) -> Response {
        let title = "\(status.rawValue) " + (HTTPResponse.Status(code: status.rawValue).reasonPhrase.isEmpty ? "error" : HTTPResponse.Status(code: status.rawValue).reasonPhrase)
        let footer: HTML = queueName.map { name -> HTML in "<footer>\(name)</footer>" } ?? ""
        let page: HTML = """
            <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>\(title) · kiln</title>\
            <link rel="stylesheet" href="/assets/gallery.css"></head><body><main><h1>\(title)</h1>\
            <p class="error">\(why)</p><p><a href="/">Queue</a> · <a href="/sweeps">Sweeps</a></p></main>\
            \(footer)</body></html>
            """
        var response = html(page, status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }

    static let contentSecurityPolicy = HTTPField.Name("Content-Security-Policy")
    static let frameOptions = HTTPField.Name("X-Frame-Options")
    static let contentTypeOptions = HTTPField.Name("X-Content-Type-Options")
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")

    /// Added to every response: scripts, styles, images and connections from this server only,
    /// no framing, no MIME sniffing, no referrer (a token in a URL never leaves the page).
    static func addSecurityHeaders(_ response: inout Response) {
        let values: [(HTTPField.Name?, String)] = [
            (contentSecurityPolicy, "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
                + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
            (frameOptions, "DENY"), (contentTypeOptions, "nosniff"), (referrerPolicy, "no-referrer"),
        ]
        for case let (name?, value) in values { response.headers[name] = value }
    }
}

/// Checks access before every request, turns errors into error pages (never a stack trace or
/// a raw database message beyond one line), and adds the security headers to every response.
struct GalleryMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AccessControl
    let queueName: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        switch access.check(request) {
        case let .refused(status, why):
            response = Responses.error(status, why, queueName: nil)
        case .allowed(let setCookie):
            do {
                response = try await next(request, context)
            } catch let error as PageError {
                response = Responses.error(error.status, error.message, queueName: queueName)
            } catch let error as HTTPError {
                let status = HTTPStatus(rawValue: error.status.code) ?? .badRequest
                response = Responses.error(status, status == .notFound ? "there is no page at this address" : error.status.reasonPhrase,
                                           queueName: queueName)
            } catch let error as HTTPResponseError {
                // Hummingbird's own refusals (e.g. a body over a limit: 413), with their status.
                let status = HTTPStatus(rawValue: error.status.code) ?? .badRequest
                response = Responses.error(status, "refused: \(error.status.reasonPhrase.lowercased())", queueName: queueName)
            } catch {
                let line = OneLine.describing(error)
                context.logger.error("\(request.method) \(request.uri.path): \(line)")
                response = Responses.error(.internalError, "the queue could not be read: \(line.prefix(300))", queueName: queueName)
            }
            if setCookie, let token = access.token {
                response.setCookie(Cookie(name: AccessControl.cookieName, value: token, path: "/", httpOnly: true, sameSite: .strict))
            }
        }
        Responses.addSecurityHeaders(&response)
        return response
    }
}
