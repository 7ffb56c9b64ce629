import Dispatch
import Foundation
@testable import Gallery
import KilnTestSupport
import QueueBackends
import RenderQueue
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The gallery's connection limits, on real sockets on 127.0.0.1 with short limits: idle
/// connections and slow clients (a byte at a time) are closed, connections past the cap are
/// answered 503 and closed at once, and an error response closes its connection.
final class GalleryConnectionTests: QueueTestCase {
    func testIdleConnectionsAreClosed() throws {
        var options = GalleryOptions(port: 0)
        (options.idleTimeout, options.requestTimeout) = (1, 30)
        let server = try LiveGallery(try emptyQueue(), options)
        defer { server.stop() }
        let silent = try RawSocket(port: server.port)
        let (text, closed, seconds) = silent.readUntilClosed(within: 6)
        XCTAssertTrue(closed, "an idle connection was left open: \(text)")
        XCTAssertLessThan(seconds, 4)
        // After an answered request the connection stays for the next, then is closed when idle.
        let kept = try RawSocket(port: server.port)
        kept.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        XCTAssertTrue(kept.readResponse().hasPrefix("HTTP/1.1 200"))
        let after = kept.readUntilClosed(within: 6)
        XCTAssertTrue(after.closed)
        XCTAssertLessThan(after.seconds, 4)
    }

    func testSlowClientsAreCutOffButIdleKeepAliveIsNot() throws {
        var options = GalleryOptions(port: 0)
        (options.idleTimeout, options.requestTimeout) = (30, 1)
        let server = try LiveGallery(try emptyQueue(), options)
        defer { server.stop() }
        // Headers a few bytes at a time, and a body a byte at a time.
        let heads = try RawSocket(port: server.port)
        let headsLasted = heads.trickle("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + String(repeating: "X-Slow: yes\r\n", count: 40), every: 0.2, for: 8)
        XCTAssertLessThan(headsLasted, 3.5, "a client sending its headers slowly held the connection")
        let body = try RawSocket(port: server.port)
        body.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n")
        let bodyLasted = body.trickle(String(repeating: "x", count: 1000), every: 0.2, for: 8)
        XCTAssertLessThan(bodyLasted, 3.5, "a client sending its body slowly held the connection")
        // A keep-alive connection waiting longer than the request timeout between requests is fine.
        let kept = try RawSocket(port: server.port)
        kept.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        XCTAssertTrue(kept.readResponse().hasPrefix("HTTP/1.1 200"))
        Thread.sleep(forTimeInterval: 1.6)
        kept.send("GET /sweeps HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        XCTAssertTrue(kept.readResponse().hasPrefix("HTTP/1.1 200"), "the idle keep-alive connection was cut as a slow request")
    }

    func testConnectionsPastTheCapAreRefusedAtOnce() throws {
        var options = GalleryOptions(port: 0)
        (options.idleTimeout, options.requestTimeout, options.maxConnections) = (30, 30, 3)
        let server = try LiveGallery(try emptyQueue(), options)
        defer { server.stop() }
        let held = try (0..<3).map { _ in try RawSocket(port: server.port) }
        for socket in held {
            socket.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            XCTAssertTrue(socket.readResponse().hasPrefix("HTTP/1.1 200"))
        }
        let extra = try RawSocket(port: server.port)
        let (text, closed, seconds) = extra.readUntilClosed(within: 5)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 503"), text)
        XCTAssertTrue(text.contains("too many connections (3 open)"), text)
        XCTAssertTrue(closed)
        XCTAssertLessThan(seconds, 2)
        held[0].close()
        var answered = ""
        for _ in 0..<50 where !answered.hasPrefix("HTTP/1.1 200") {
            Thread.sleep(forTimeInterval: 0.1)
            let next = try RawSocket(port: server.port)
            next.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answered = next.readResponse()
        }
        XCTAssertTrue(answered.hasPrefix("HTTP/1.1 200"), "a closed connection made no room: \(answered.prefix(200))")
    }

    func testErrorResponsesCloseTheConnection() throws {
        let server = try LiveGallery(try emptyQueue(), GalleryOptions(port: 0))
        defer { server.stop() }
        let missing = try RawSocket(port: server.port)
        missing.send("GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        var (text, closed, seconds) = missing.readUntilClosed(within: 5)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 404"), text)
        XCTAssertTrue(text.lowercased().contains("connection: close"), text)
        XCTAssertTrue(closed && seconds < 2, "the connection stayed open after a 404")
        // Headers over Hummingbird's 80 KiB: 400, and the socket is closed, not left half-open.
        let oversized = try RawSocket(port: server.port)
        oversized.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + String(repeating: "a", count: 100_000) + "\r\n\r\n")
        (text, closed, seconds) = oversized.readUntilClosed(within: 5)
        XCTAssertTrue(text.isEmpty || text.hasPrefix("HTTP/1.1 400"), text)
        XCTAssertTrue(closed && seconds < 2, "the connection stayed open after a 400")
        // A client asking Connection: close gets it.
        let asking = try RawSocket(port: server.port)
        asking.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        (text, closed, seconds) = asking.readUntilClosed(within: 5)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), text)
        XCTAssertTrue(closed && seconds < 2)
    }

    /// On the wire, HEAD gets GET's head (its Content-Length too) and no body bytes, so the next
    /// response on the same connection starts where it should.
    func testHeadOnTheWireHasNoBody() throws {
        let server = try LiveGallery(try emptyQueue(), GalleryOptions(port: 0))
        defer { server.stop() }
        let socket = try RawSocket(port: server.port)
        socket.send("GET /jobs/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let full = socket.readResponse()
        let length = try XCTUnwrap(full.lowercased().range(of: "content-length: ").map { full[$0.upperBound...].prefix { $0.isNumber } })
        socket.send("HEAD /jobs/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /assets/gallery.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.5)
        let (text, closed, _) = socket.readUntilClosed(within: 1)
        XCTAssertFalse(closed)
        let responses = text.components(separatedBy: "HTTP/1.1 ")
        XCTAssertEqual(responses.count, 3, text)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), text)
        XCTAssertTrue(responses[1].lowercased().contains("content-length: \(length)\r\n"), responses[1])
        XCTAssertTrue(responses[1].hasSuffix("\r\n\r\n"), "HEAD sent body bytes: \(responses[1].suffix(200))")
        XCTAssertTrue(responses[2].hasPrefix("200"), responses[2].prefix(100).description)
    }

    func testLimitsAreValidated() {
        for (idle, request, connections) in [(0.0, 1.0, 1), (Double.nan, 1, 1), (1, -1, 1), (1, 1e9, 1), (1, 1, 0), (1, 1, 1_000_000)] {
            var options = GalleryOptions()
            (options.idleTimeout, options.requestTimeout, options.maxConnections) = (idle, request, connections)
            XCTAssertThrowsError(try options.validate()) { error in
                let line = "\(error)"
                XCTAssertTrue(line.hasPrefix("--idle-timeout") || line.hasPrefix("--request-timeout") || line.hasPrefix("--max-connections"), line)
                XCTAssertFalse(line.contains("\n"))
            }
        }
        XCTAssertGreaterThanOrEqual(GalleryOptions.defaultMaxConnections, 8)
        XCTAssertLessThanOrEqual(GalleryOptions.defaultMaxConnections, 256)
        XCTAssertNoThrow(try GalleryOptions().validate())
    }

    /// A queue holding one queued job (nothing rendered). These tests stay synchronous (blocking
    /// sockets on the test's own thread, as `LiveGallery` needs), so the queue is awaited from sync.
    func emptyQueue() throws -> String {
        let location = try queue("connections")
        _ = try awaitFromSync { try await Queues.open(location).enqueue(model: "none", request: .init(prompt: "x")) }
        return location
    }
}

/// The gallery served on a free loopback port until `stop()`.
final class LiveGallery: @unchecked Sendable {
    private(set) var port = 0
    private var task: Task<Void, Error>?

    init(_ location: String, _ options: GalleryOptions) throws {
        let ready = DispatchSemaphore(value: 0)
        let found = Locked<Int>(0)
        let reader = try awaitFromSync { try await Queues.openGalleryReader(location) }
        let app = try Gallery.application(reader: reader, actions: nil, options: options) { port in
            found.set(port)
            ready.signal()
        }
        task = Task.detached { try await app.runService(gracefulShutdownSignals: []) }
        guard ready.wait(timeout: .now() + 30) == .success else { throw TestQueues.Unavailable(description: "the gallery did not start") }
        port = found.get()
    }

    func stop() { task?.cancel() }
}

final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
}

/// A blocking TCP client on 127.0.0.1 that sees exactly when the server closes.
final class RawSocket {
    let fd: Int32
    private var closed = false

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, connected == 0 else { throw TestQueues.Unavailable(description: "cannot connect to 127.0.0.1:\(port)") }
    }

    deinit { close() }

    func close() {
        if !closed { Glibc.close(fd) }
        closed = true
    }

    /// Sends `text`; false once the server has closed the connection.
    @discardableResult
    func send(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            bytes = bytes.dropFirst(n)
        }
        return true
    }

    /// Whether the server has closed its end (EOF or reset), looking without waiting.
    func serverClosed() -> Bool {
        var byte: UInt8 = 0
        while true {
            let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
            if n == 0 { return true }
            if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        }
    }

    /// Sends `text` a byte at a time, one every `every` seconds, until the server closes or
    /// `limit` seconds pass; the seconds it lasted.
    func trickle(_ text: String, every: Double, for limit: Double) -> Double {
        let start = Date()
        for c in text {
            if Date().timeIntervalSince(start) > limit || !send(String(c)) || serverClosed() { break }
            Thread.sleep(forTimeInterval: every)
        }
        return Date().timeIntervalSince(start)
    }

    /// One response (headers and a Content-Length body), read within 5 seconds.
    func readResponse() -> String {
        var data = Data()
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let text = String(data: data, encoding: .utf8), let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text[..<end.upperBound].utf8.count >= length { return text }
            }
            guard let chunk = receive(timeout: deadline.timeIntervalSinceNow), !chunk.isEmpty else { break }
            data += chunk
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Everything the server sends until it closes or `seconds` pass: the text, whether it
    /// closed, and when.
    func readUntilClosed(within seconds: Double) -> (text: String, closed: Bool, seconds: Double) {
        let start = Date()
        var data = Data()
        while Date().timeIntervalSince(start) < seconds {
            guard let chunk = receive(timeout: seconds - Date().timeIntervalSince(start)) else { break }
            if chunk.isEmpty { return (String(decoding: data, as: UTF8.self), true, Date().timeIntervalSince(start)) }
            data += chunk
        }
        return (String(decoding: data, as: UTF8.self), false, Date().timeIntervalSince(start))
    }

    /// The next bytes; empty at EOF or reset, nil when nothing came within `timeout`.
    private func receive(timeout: Double) -> Data? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(max(0, timeout) * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? Data(buffer[0..<n]) : Data()
    }
}
