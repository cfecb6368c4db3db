import Foundation
import LeadlineRPC
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The webhook HTTP/1.1 server on an already listening TCP socket (systemd's "webhook" fd, or
/// one bound from [ingest].webhook_listen): keep-alive, a body limit answered with 413 before
/// the body is read, and one deadline per request so a slow client cannot hold a connection.
final class WebhookServer: Sendable {
    struct Limits: Sendable {
        var maxBodyBytes: Int
        /// From the connection's start (or the previous response) until the request is complete;
        /// also how long an idle keep-alive connection stays open.
        var requestTimeout: TimeAmount
    }

    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    var localPort: Int? { channel.localAddress?.port }

    static func start(listeningOn fd: CInt, endpoints: WebhookEndpoints, limits: Limits, logger: Logger) async throws
        -> WebhookServer
    {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Every header this server writes is a constant or a number of its own
                    // making: validating them again on each response bought nothing.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withErrorHandling: true, withOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(
                        WebhookHTTPHandler(endpoints: endpoints, limits: limits, logger: logger))
                }
            }
            .withBoundSocket(fd)
            .get()
        return WebhookServer(channel: channel)
    }

    func shutdown() async {
        try? await channel.close()
    }
}

/// Stops accepting webhooks when the daemon shuts down.
struct WebhookServerService: Service, CustomStringConvertible {
    let server: WebhookServer
    var description: String { "webhook-server" }

    func run() async throws {
        try? await gracefulShutdown()
        await server.shutdown()
    }
}

/// One connection: collects a request, hands it to the endpoints, writes the answer.
final class WebhookHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: WebhookEndpoints
    private let limits: WebhookServer.Limits
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    /// Set once a response was decided early (413): the rest of the request is ignored.
    private var refused = false
    private var deadline: Scheduled<Void>?

    init(endpoints: WebhookEndpoints, limits: WebhookServer.Limits, logger: Logger) {
        self.endpoints = endpoints
        self.limits = limits
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armDeadline(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armDeadline(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            refused = false
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBodyBytes {
                refuse(context: context, status: 413, message: "body larger than \(limits.maxBodyBytes) bytes")
                return
            }
            body = context.channel.allocator.buffer(capacity: 0)
        case .body(var chunk):
            guard !refused, body != nil else { return }
            if body!.readableBytes + chunk.readableBytes > limits.maxBodyBytes {
                refuse(context: context, status: 413, message: "body larger than \(limits.maxBodyBytes) bytes")
                return
            }
            body!.writeBuffer(&chunk)
        case .end:
            guard !refused, let head, let body else { return }
            deadline?.cancel()
            deadline = nil
            self.head = nil
            self.body = nil
            dispatch(context: context, head: head, body: body)
        }
    }

    private func dispatch(context: ChannelHandlerContext, head: HTTPRequestHead, body: ByteBuffer) {
        var path = head.uri
        var query: [String: String] = [:]
        // Only the subscription handshake carries a query; lead notifications skip URL parsing.
        if head.uri.utf8.contains(UInt8(ascii: "?")) {
            let components = URLComponents(string: head.uri)
            path = components?.path ?? head.uri
            for item in components?.queryItems ?? [] where query[item.name] == nil {
                query[item.name] = item.value ?? ""
            }
        }
        let request = WebhookRequest(
            method: head.method.rawValue, path: path, query: query,
            headers: head.headers.map { ($0.name, $0.value) }, body: Array(body.readableBytesView))
        let keepAlive = head.isKeepAlive
        let version = head.version
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        // A lead notification is checked and handed to the database writer inside this read, and
        // answered from the writer's thread after the commit (or at once: bad JSON). Anything
        // else is answered from a task.
        endpoints.handle(request) { response in
            if bound.eventLoop.inEventLoop {
                let (handler, context) = bound.value
                handler.write(context: context, response: response, version: version, keepAlive: keepAlive)
            } else {
                bound.eventLoop.execute {
                    let (handler, context) = bound.value
                    handler.write(context: context, response: response, version: version, keepAlive: keepAlive)
                }
            }
        }
    }

    private func write(context: ChannelHandlerContext, response: WebhookResponse, version: HTTPVersion, keepAlive: Bool)
    {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.utf8.count))
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if version.major == 1 && version.minor == 0 {
            // HTTP/1.0 closes by default: without this header the client waits for the close.
            headers.add(name: "Connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(
            version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
        if keepAlive { armDeadline(context: context) }
    }

    /// Answers at once and closes: the rest of the request is never read.
    private func refuse(context: ChannelHandlerContext, status: Int, message: String) {
        refused = true
        body = nil
        deadline?.cancel()
        deadline = nil
        logger.info("webhook request refused", metadata: ["status": "\(status)", "reason": "\(message)"])
        let version = head?.version ?? .http1_1
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(message.utf8.count + 1))
        headers.add(name: "Connection", value: "close")
        context.write(
            wrapOutboundOut(
                .head(
                    HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: headers)
                )),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: message + "\n")))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: limits.requestTimeout) {
            let (handler, context) = bound.value
            handler.deadline = nil
            if handler.head != nil, !handler.refused {
                handler.refuse(context: context, status: 408, message: "request not complete in time")
            } else {
                context.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
