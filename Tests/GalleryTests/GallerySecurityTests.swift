import Foundation
@testable import Gallery
import Hummingbird
import HummingbirdTesting
import KilnTestSupport
import QueueBackends
import RenderQueue
import XCTest

/// The refusals: bad ids and paths, the token, actions while they are off, the CSRF token.
final class GallerySecurityTests: QueueTestCase {
    func testBadIdsAndTraversalAttemptsAre404() async throws {
        let location = try await gallerySweep()
        try await gallery(location).test(.router) { client in
            let attempts = ["/outputs/abc", "/outputs/0", "/outputs/-1", "/outputs/1e3", "/outputs/99999", "/outputs/99999.png",
                            "/outputs/1.jpg", "/outputs/1.png.png", "/outputs/x/thumb", "/outputs/99999/thumb", "/jobs/abc", "/jobs/0x1",
                            "/jobs/100", "/sweeps/7", "/sweeps/1%2F..%2F..", "/outputs/../../etc/passwd", "/outputs/..%2F..%2Fetc%2Fpasswd",
                            "/outputs/%2e%2e/%2e%2e/etc/passwd", "/sweeps/1/../../Package.swift", "/assets/../../Package.swift",
                            "/assets/gallery.css%00.png", "/jobs/1/../../../etc/passwd", "/etc/passwd", "/outputs/1/thumb/../../..",
                            "/outputs/" + location, "/outputs/99999999999999999999"]
            for uri in attempts {
                let r = try await get(client, uri)
                XCTAssertEqual(r.status, .notFound, uri)
                XCTAssertFalse(r.text.contains("root:"), uri)
                XCTAssertEqual(r.headers[.contentType], "text/html; charset=utf-8", uri)
            }
        }
    }

    func testTheTokenIsNeededForEveryRequest() async throws {
        let token = "s3cret-token-0123456789"
        let location = try await gallerySweep()
        let queueName = try await Queues.openReader(location).displayName
        try await gallery(location, GalleryOptions(token: token)).test(.router) { client in
            for uri in ["/", "/sweeps/1", "/outputs/1.png", "/outputs/1/thumb", "/assets/gallery.css", "/nowhere", "/?token=wrong-token-0123456789"] {
                let r = try await get(client, uri)
                XCTAssertEqual(r.status, .unauthorized, uri)
                XCTAssertFalse(r.text.contains("lighthouse"), uri)
                // The queue's name (a path, or user, host and database) is for those holding the token.
                XCTAssertFalse(r.text.contains(queueName) || r.text.contains("<footer>"), "\(uri): \(r.text)")
            }
            for scheme in ["bearer", "BEARER", "Bearer"] {
                let status = try await get(client, "/", [.authorization: "\(scheme) \(token)"]).status
                XCTAssertEqual(status, .ok, scheme)
            }
            let basic = try await get(client, "/", [.authorization: "Basic \(token)"]).status
            XCTAssertEqual(basic, .unauthorized)
            let awaited1 = try await get(client, "/", [.authorization: "Bearer wrong-token-0123456789"]).status
            XCTAssertEqual(awaited1, .unauthorized)
            let awaited2 = try await get(client, "/", [.authorization: "Bearer " + token + "x"]).status
            XCTAssertEqual(awaited2, .unauthorized)
            let awaited3 = try await get(client, "/", [.cookie: "kiln_token=nope"]).status
            XCTAssertEqual(awaited3, .unauthorized)
            let awaited4 = try await get(client, "/outputs/1.png", [.authorization: "Bearer " + token]).status
            XCTAssertEqual(awaited4, .ok)
            let first = try await get(client, "/sweeps/1?token=" + token)
            XCTAssertEqual(first.status, .ok)
            let cookie = try XCTUnwrap(first.headers[.setCookie])
            XCTAssertTrue(cookie.hasPrefix("kiln_token=\(token);"), cookie)
            XCTAssertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), cookie)
            let awaited5 = try await get(client, "/outputs/1/thumb", [.cookie: "kiln_token=\(token)"]).status
            XCTAssertEqual(awaited5, .ok)
        }
    }

    func testOtherHostsNeedATokenAndLoopbackRefusesForeignHostNames() throws {
        XCTAssertThrowsError(try GalleryOptions(host: "0.0.0.0").validate()) { XCTAssertEqual($0 as? GalleryError, .tokenRequired(host: "0.0.0.0")) }
        XCTAssertThrowsError(try GalleryOptions(host: "192.168.1.5", token: "short").validate()) { XCTAssertEqual($0 as? GalleryError, .weakToken) }
        XCTAssertThrowsError(try GalleryOptions(token: "has spaces in it, sixteen+").validate()) { XCTAssertEqual($0 as? GalleryError, .weakToken) }
        XCTAssertNoThrow(try GalleryOptions(host: "0.0.0.0", token: "0123456789abcdef").validate())
        XCTAssertThrowsError(try GalleryOptions(port: 70000).validate())
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"] { XCTAssertTrue(GalleryOptions.isLoopback(host), host) }
        for host in ["0.0.0.0", "127.0.0.1.evil.example", "128.0.0.1", "example.com", "::"] { XCTAssertFalse(GalleryOptions.isLoopback(host), host) }
        // Without a token, a request naming another host (DNS rebinding) is refused.
        let access = AccessControl(token: nil, csrf: "x")
        func request(_ authority: String) -> Request {
            Request(head: HTTPRequest(method: .get, scheme: "http", authority: authority, path: "/"), body: RequestBody(buffer: ByteBuffer()))
        }
        XCTAssertEqual(access.check(request("127.0.0.1:8080")), .allowed(setCookie: false))
        XCTAssertEqual(access.check(request("localhost:8080")), .allowed(setCookie: false))
        XCTAssertEqual(access.check(request("[::1]:8080")), .allowed(setCookie: false))
        guard case .refused(.misdirected, _) = access.check(request("attacker.example:8080")) else { return XCTFail("foreign Host allowed") }
    }

    func testActionsAreRefusedWhileOffAndWriteNothing() async throws {
        let location = try await gallerySweep()
        let extra = try await Queues.open(location).enqueue(model: "none", request: .init(prompt: "x"))
        try await gallery(location).test(.router) { client in
            for uri in ["/jobs/\(extra)/cancel", "/jobs/1/retry", "/sweeps/1/pause"] {
                let r = try await client.execute(uri: uri, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                 body: ByteBuffer(string: "csrf=anything"))
                XCTAssertEqual(r.status, .forbidden, uri)
                XCTAssertTrue(r.text.contains("--allow-actions"), uri)
            }
            let awaited6 = try await client.execute(uri: "/jobs/abc/cancel", method: .post).status
            XCTAssertEqual(awaited6, .notFound)
        }
        try await Queues.withGalleryReader(location) { reader in
            let state = try await reader.job(extra)?.summary.state, paused = try await reader.sweep(1)?.paused
            XCTAssertEqual(state, "queued")
            XCTAssertEqual(paused, false)
        }
    }

    func testActionsNeedTheCSRFTokenOnEachBackend() async throws {
        try await onEachBackend { _ in
            let location = try await gallerySweep()
            let extra = try await Queues.open(location).enqueue(model: "none", request: .init(prompt: "x"))
            let reader = try await Queues.openGalleryReader(location)
            try await reader.whileRunning {
                try await gallery(location, GalleryOptions(allowActions: true)).test(.router) { client in
                    let page = try await get(client, "/jobs/\(extra)").text
                    let csrf = try XCTUnwrap(page.range(of: #"name="csrf" value="[0-9a-f]{64}""#, options: .regularExpression)
                        .map { String(page[$0].dropFirst(19).dropLast()) })
                    func post(_ uri: String, _ body: String, _ headers: HTTPFields = [:]) async throws -> TestResponse {
                        var h = headers
                        h[.contentType] = "application/x-www-form-urlencoded"
                        return try await client.execute(uri: uri, method: .post, headers: h, body: ByteBuffer(string: body))
                    }
                    let awaited7 = try await post("/jobs/\(extra)/cancel", "").status
                    XCTAssertEqual(awaited7, .forbidden, "no CSRF token")
                    let awaited8 = try await post("/jobs/\(extra)/cancel", "csrf=" + String(repeating: "0", count: 64)).status
                    XCTAssertEqual(awaited8, .forbidden)
                    let awaited9 = try await post("/jobs/\(extra)/cancel", "csrf=\(csrf)", [.origin: "http://attacker.example"]).status
                    XCTAssertEqual(awaited9, .forbidden)
                    let opaque = try await post("/jobs/\(extra)/cancel", "csrf=\(csrf)", [.origin: "null"])
                    XCTAssertEqual(opaque.status, .forbidden, "Origin: null (a sandboxed frame or a file) is no page of the gallery")
                    XCTAssertTrue(opaque.text.contains("Origin: null"), opaque.text)
                    // A form far over the limit: 413 in one line, nothing written.
                    let big = try await post("/jobs/\(extra)/cancel", "csrf=\(csrf)&pad=" + String(repeating: "a", count: 70_000))
                    XCTAssertEqual(big.status, .contentTooLarge)
                    XCTAssertTrue(big.text.contains("the form is over 16384 bytes"), big.text)
                    let read1 = try await reader.job(extra)?.summary.state
                    XCTAssertEqual(read1, "queued", "nothing written by refused actions")

                    var r = try await post("/jobs/\(extra)/cancel", "csrf=\(csrf)", [.origin: "http://localhost"])
                    XCTAssertEqual(r.status, .seeOther)
                    XCTAssertEqual(r.headers[.location], "/jobs/\(extra)")
                    let read2 = try await reader.job(extra)?.summary.state
                    XCTAssertEqual(read2, "cancelled")
                    r = try await post("/jobs/\(extra)/retry", "csrf=\(csrf)")
                    XCTAssertEqual(r.status, .seeOther)
                    let read3 = try await reader.job(extra)?.summary.state
                    XCTAssertEqual(read3, "queued")
                    let awaited10 = try await post("/sweeps/1/pause", "csrf=\(csrf)").status
                    XCTAssertEqual(awaited10, .seeOther)
                    let read4 = try await reader.sweep(1)?.paused
                    XCTAssertEqual(read4, true)
                    let awaited11 = try await get(client, "/sweeps/1").text.contains(">Resume</button>")
                    XCTAssertTrue(awaited11)
                    let awaited12 = try await post("/sweeps/1/pause", "csrf=\(csrf)").status
                    XCTAssertEqual(awaited12, .seeOther)
                    let read5 = try await reader.sweep(1)?.paused
                    XCTAssertEqual(read5, false)
                    let awaited13 = try await post("/jobs/999/cancel", "csrf=\(csrf)").status
                    XCTAssertEqual(awaited13, .notFound)
                    let awaited14 = try await post("/sweeps/9/pause", "csrf=\(csrf)").status
                    XCTAssertEqual(awaited14, .notFound)
                }
            }
        }
    }

    /// HEAD is answered on every route as GET would be (status and headers), without a body.
    func testHeadIsAnsweredAsGetWithoutABody() async throws {
        let location = try await gallerySweep()
        var options = GalleryOptions()
        options.eventStreamSeconds = 600
        try await gallery(location, options).test(.router) { client in
            for uri in ["/", "/events", "/events?poll=1", "/sweeps", "/sweeps/1", "/outputs", "/outputs/1", "/outputs/1.png", "/outputs/1/thumb",
                        "/jobs", "/jobs/1", "/compare?a=1&b=2", "/assets/gallery.css", "/assets/gallery.js"] {
                let started = Date()
                let head = try await client.execute(uri: uri, method: .head)
                XCTAssertEqual(head.status, .ok, uri)
                XCTAssertEqual(head.body.readableBytes, 0, uri)
                XCTAssertLessThan(Date().timeIntervalSince(started), 5, "\(uri): HEAD waited for a body")
                if uri != "/events" {
                    let full = try await get(client, uri)
                    XCTAssertEqual(head.headers[.contentType], full.headers[.contentType], uri)
                    XCTAssertEqual(head.headers[.contentLength], String(full.body.readableBytes), uri)
                }
            }
            let missing = try await client.execute(uri: "/jobs/999", method: .head).status
            XCTAssertEqual(missing, .notFound)
        }
    }
}
