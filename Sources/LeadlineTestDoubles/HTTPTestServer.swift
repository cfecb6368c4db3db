import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as a test double saw it.
public struct RecordedRequest: Sendable {
    public var method: String
    /// Path without the query string.
    public var path: String
    public var query: [String: String]
    public var headers: [(name: String, value: String)]
    public var body: Data
    public var receivedAt: Date

    public func header(_ name: String) -> String? {
        headers.last { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var json: Any? { try? JSONSerialization.jsonObject(with: body) }
}

/// What a double answers. `.drop` closes the connection without a response (a reset);
/// `delay` holds the answer back (slow vendor, or a timeout when longer than the client waits);
/// `truncateBody` sends a Content-Length larger than the body, then closes.
public struct CannedResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: Data
    public var delay: Duration?
    public var drop: Bool
    public var truncateBody: Bool

    public init(
        status: Int, headers: [(String, String)] = [("Content-Type", "application/json")], body: Data = Data(),
        delay: Duration? = nil, drop: Bool = false, truncateBody: Bool = false
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.drop = drop
        self.truncateBody = truncateBody
    }

    public static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> CannedResponse {
        CannedResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Data(text.utf8))
    }

    public static func json(_ status: Int, object: Any, headers: [(String, String)] = []) -> CannedResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return CannedResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: data)
    }

    public static let reset = CannedResponse(status: 0, drop: true)
}

/// An HTTP/1.1 server on loopback for vendor test doubles: each request goes to `handler`,
/// every request is recorded (thread-safe) for the test's assertions. A double whose handler is
/// its own method starts the server without one and calls `respond(with:)` once it is complete;
/// until then requests get 503. A double that answers without awaiting anything installs its
/// handler with `respondImmediately(with:)`: answered on the connection's event loop, with no
/// task per request, so a load test measures the sender rather than the double.
public final class HTTPTestServer: Sendable {
    public typealias Handler = @Sendable (RecordedRequest) async -> CannedResponse
    public typealias ImmediateHandler = @Sendable (RecordedRequest) -> CannedResponse

    enum Responder: Sendable {
        case later(Handler)
        case immediately(ImmediateHandler)
    }

    public let port: Int
    private let channel: any Channel
    private let recorded = NIOLockedValueBox<[RecordedRequest]>([])
    private let responder: NIOLockedValueBox<Responder?>

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public var requests: [RecordedRequest] { recorded.withLockedValue { $0 } }

    public func clearRequests() { recorded.withLockedValue { $0 = [] } }

    public init(
        port: Int = 0, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, handler: Handler? = nil
    )
        async throws
    {
        let recorded = self.recorded
        let current = NIOLockedValueBox(handler.map { Responder.later($0) })
        self.responder = current
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        DoubleHandler(responder: current) { request in recorded.withLockedValue { $0.append(request) } }
                    )
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        self.port = channel.localAddress?.port ?? port
    }

    public func respond(with handler: @escaping Handler) {
        responder.withLockedValue { $0 = .later(handler) }
    }

    public func respondImmediately(with handler: @escaping ImmediateHandler) {
        responder.withLockedValue { $0 = .immediately(handler) }
    }

    public func shutdown() async {
        try? await channel.close()
    }
}

final class DoubleHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: NIOLockedValueBox<HTTPTestServer.Responder?>
    private let record: @Sendable (RecordedRequest) -> Void
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(
        responder: NIOLockedValueBox<HTTPTestServer.Responder?>,
        record: @escaping @Sendable (RecordedRequest) -> Void
    ) {
        self.responder = responder
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            let components = URLComponents(string: head.uri)
            var query: [String: String] = [:]
            for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
            let request = RecordedRequest(
                method: head.method.rawValue, path: components?.path ?? head.uri, query: query,
                headers: head.headers.map { ($0.name, $0.value) }, body: Data(body.readableBytesView),
                receivedAt: Date())
            record(request)
            let keepAlive = head.isKeepAlive
            let version = head.version
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            switch responder.withLockedValue({ $0 }) {
            case .immediately(let answer)?:
                let response = answer(request)
                guard let delay = response.delay else {
                    return respond(context: context, response: response, version: version, keepAlive: keepAlive)
                }
                let (seconds, attoseconds) = delay.components
                let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
                context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
                    let (me, context) = bound.value
                    me.respond(context: context, response: response, version: version, keepAlive: keepAlive)
                }
            case .later(let handler)?:
                Task {
                    let response = await handler(request)
                    if let delay = response.delay { try? await Task.sleep(for: delay) }
                    bound.eventLoop.execute {
                        let (me, context) = bound.value
                        me.respond(context: context, response: response, version: version, keepAlive: keepAlive)
                    }
                }
            case nil:
                respond(context: context, response: CannedResponse(status: 503), version: version, keepAlive: keepAlive)
            }
        }
    }

    private func respond(
        context: ChannelHandlerContext, response: CannedResponse, version: HTTPVersion, keepAlive: Bool
    ) {
        guard context.channel.isActive else { return }
        if response.drop {
            context.close(promise: nil)
            return
        }
        var headers = HTTPHeaders(response.headers)
        let length = response.truncateBody ? response.body.count + 100 : response.body.count
        headers.replaceOrAdd(name: "Content-Length", value: String(length))
        if !keepAlive || response.truncateBody { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(
            version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
        let channel = context.channel
        if response.truncateBody {
            context.flush()
            channel.close(promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}

/// Loads a vendor fixture from ../shared/fixtures (or LEADLINE_FIXTURES).
public enum Fixtures {
    public static var directory: String {
        if let explicit = ProcessInfo.processInfo.environment["LEADLINE_FIXTURES"] { return explicit }
        // Sources/LeadlineTestDoubles/HTTPTestServer.swift -> repository root -> ../shared/fixtures
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repository.deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
    }

    public static func data(_ relativePath: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(relativePath)"))
    }

    public static func json(_ relativePath: String) throws -> Any {
        try JSONSerialization.jsonObject(with: try data(relativePath))
    }
}
