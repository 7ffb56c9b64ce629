import Foundation
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Hummingbird's HTTP/1 channel with the gallery's connection limits around it (see
/// `GalleryOptions`): a connection idle for `idleTimeout` is closed (Hummingbird's own timer);
/// a request must arrive in full within `requestTimeout` of its first byte, or the connection is
/// closed (a client sending a byte a second cannot hold it); past `maxConnections` open at once,
/// a new connection is answered 503 and closed at once; and after an error response (status 400
/// and up) or a request asking `Connection: close`, the connection is closed once the response
/// is sent, rather than left half-open for the client to close.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let http: HTTP1Channel
    let requestTimeout: TimeAmount
    let connections: ConnectionCount

    init(responder: @escaping HTTPChannelHandler.Responder, options: GalleryOptions) {
        http = HTTP1Channel(responder: responder, configuration: .init(idleTimeout: GuardedHTTP1Channel.time(options.idleTimeout)))
        requestTimeout = GuardedHTTP1Channel.time(options.requestTimeout)
        connections = ConnectionCount(limit: options.maxConnections)
    }

    static func time(_ seconds: Double) -> TimeAmount { .nanoseconds(Int64(seconds * 1e9)) }

    /// The server Hummingbird's `Application` runs.
    static func builder(_ options: GalleryOptions) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, options: options) }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let clock = RequestClock(timeout: requestTimeout)
        var configuration = http.configuration
        configuration.additionalChannelHandlers = { [RequestEnds(clock: clock)] }
        let connections = self.connections
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGate(connections: connections, clock: clock), position: .first)
        }.flatMap {
            HTTP1Channel(responder: http.responder, configuration: configuration).setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http.handle(value: value, logger: logger)
    }
}

/// The connections open at once, shared by every connection of one server.
final class ConnectionCount: Sendable {
    let limit: Int
    private let open = Mutex(0)

    init(limit: Int) { self.limit = limit }

    /// Counts one more connection, unless `limit` are open already.
    func admit() -> Bool {
        open.withLock { open in
            guard open < limit else { return false }
            open += 1
            return true
        }
    }

    func leave() { open.withLock { $0 -= 1 } }

    var current: Int { open.withLock { $0 } }
}

/// One connection's request deadline: started by the first byte (or head) of a request, met by
/// its end; when it passes first, the connection is closed. Used on the connection's event loop only.
final class RequestClock: @unchecked Sendable {
    let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func start(_ context: ChannelHandlerContext) {
        guard deadline == nil else { return }
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func stop() {
        deadline?.cancel()
        deadline = nil
    }
}

/// First in the pipeline, on raw bytes: admits the connection or answers 503 and closes it,
/// and starts the request clock when bytes of a request arrive.
final class ConnectionGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let connections: ConnectionCount
    let clock: RequestClock
    private var state = State.new

    enum State { case new, admitted, refused, left }

    init(connections: ConnectionCount, clock: RequestClock) {
        self.connections = connections
        self.clock = clock
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard state == .new else { return }
        if connections.admit() {
            state = .admitted
            return
        }
        state = .refused
        let body = "too many connections (\(connections.limit) open): try again shortly\n"
        let answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\nRetry-After: 5\r\n\r\n" + body
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer))).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state == .admitted else { return }  // a refused connection's request is never read
        clock.start(context)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        leave()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { leave() }

    private func leave() {
        clock.stop()
        if state == .admitted { connections.leave() }
        state = .left
    }
}

/// After the HTTP decoder: a request's end stops its clock (its head starts it, should the
/// bytes have come with the previous request's); an error response, or a response to a request
/// that asked `Connection: close`, says `Connection: close` and closes the connection once sent.
final class RequestEnds: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    let clock: RequestClock
    private var closeRequested = false
    private var closing = false

    init(clock: RequestClock) { self.clock = clock }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            clock.start(context)
            if head.headerFields[.connection]?.lowercased() == "close" { closeRequested = true }
        case .body: break
        case .end: clock.stop()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 400 || closeRequested:
            closing = true
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where closing:
            let channel = context.channel
            let sent = context.writeAndFlush(data)
            sent.whenComplete { _ in channel.close(promise: nil) }
            promise.map(sent.cascade)
        default:
            context.write(data, promise: promise)
        }
    }
}
