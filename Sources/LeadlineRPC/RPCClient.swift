import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A JSON-RPC client over a Unix socket, for leadctl and daemon-to-daemon calls. Calls may be
/// issued concurrently over one connection; a dropped connection fails the calls it carried
/// and the next call reconnects (which, under socket activation, starts the daemon).
public final class RPCClient: Sendable {
    public let socketPath: String
    private let connectTimeout: TimeAmount
    private let callTimeout: TimeAmount
    private let group: any EventLoopGroup
    private let maxReplyBytes: Int
    private let connection = NIOLockedValueBox<EventLoopFuture<any Channel>?>(nil)
    private let nextID = NIOLockedValueBox<Int64>(1)

    public init(
        socketPath: String, connectTimeout: TimeAmount = .seconds(5), callTimeout: TimeAmount = .seconds(60),
        maxReplyBytes: Int = 64 << 20, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.socketPath = socketPath
        self.connectTimeout = connectTimeout
        self.callTimeout = callTimeout
        self.maxReplyBytes = maxReplyBytes
        self.group = group
    }

    public func call<M: RPCMethod>(_ method: M.Type, _ params: M.Params) async throws -> M.Result {
        let result = try await call(M.name, params: try JSONCoding.value(of: params))
        do {
            return try JSONCoding.convert(result, to: M.Result.self)
        } catch let error as DecodingError {
            throw RPCError.internalError("unexpected reply to \(M.name): \(DecodingErrorDescription.describe(error))")
        }
    }

    /// An untyped call: `params` is sent as given (an object, an array, or omitted when nil).
    public func call(_ method: String, params: JSONValue?) async throws -> JSONValue {
        let id = nextID.withLockedValue { id in
            defer { id += 1 }
            return id
        }
        var request: [String: JSONValue] = ["jsonrpc": .string("2.0"), "method": .string(method), "id": .int(id)]
        if let params { request["params"] = params }
        let line = try JSONCoding.encode(JSONValue.object(request))
        let channel = try await connectedChannel()
        let promise = channel.eventLoop.makePromise(of: JSONValue.self)
        let timeout = callTimeout
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(RPCError.timeout("no reply to '\(method)' within \(timeout.nanoseconds / 1_000_000_000) s"))
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        // A write to a connection that died after the isActive check never reaches the handler, so
        // nothing else would fail the call: without this it hung until the call timeout.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in
            promise.fail(RPCError.unavailable("the connection closed before '\(method)' was sent"))
        }
        channel.writeAndFlush(PendingCall(id: id, line: line, promise: promise), promise: written)
        return try await promise.futureResult.get()
    }

    /// Sends a notification: no id, no reply.
    public func notify(_ method: String, params: JSONValue?) async throws {
        var request: [String: JSONValue] = ["jsonrpc": .string("2.0"), "method": .string(method)]
        if let params { request["params"] = params }
        let channel = try await connectedChannel()
        let line = try JSONCoding.encode(JSONValue.object(request))
        try await channel.writeAndFlush(PendingCall(id: nil, line: line, promise: nil))
    }

    public func close() async {
        let future = connection.withLockedValue { current in
            defer { current = nil }
            return current
        }
        if let channel = try? await future?.get() { try? await channel.close() }
    }

    private func connectedChannel(retrying: Bool = true) async throws -> any Channel {
        let future = connection.withLockedValue { current -> EventLoopFuture<any Channel> in
            if let current { return current }
            let fresh = connect()
            current = fresh
            return fresh
        }
        let channel: any Channel
        do {
            channel = try await future.get()
        } catch {
            connection.withLockedValue { if $0 === future { $0 = nil } }
            throw RPCError.unavailable("cannot connect to \(socketPath): \(Self.describe(error))")
        }
        if channel.isActive { return channel }
        // The daemon closed our old connection (idle timeout, restart): reconnect once.
        connection.withLockedValue { if $0 === future { $0 = nil } }
        guard retrying else { throw RPCError.unavailable("\(socketPath) closed the connection") }
        return try await connectedChannel(retrying: false)
    }

    private func connect() -> EventLoopFuture<any Channel> {
        let maxReplyBytes = self.maxReplyBytes
        return ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LineFrameDecoder(maxLength: maxReplyBytes)))
                    try channel.pipeline.syncOperations.addHandler(RPCClientHandler())
                }
            }
            .connect(unixDomainSocketPath: socketPath)
    }

    private static func describe(_ error: Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode))
        }
        if error is ChannelError { return "connect timed out or was refused" }
        return "\(type(of: error))"
    }
}

struct PendingCall: Sendable {
    var id: Int64?
    var line: Data
    var promise: EventLoopPromise<JSONValue>?
}

/// Matches replies to calls by id on the connection's event loop.
final class RPCClientHandler: ChannelDuplexHandler {
    typealias InboundIn = LineFrame
    typealias OutboundIn = PendingCall
    typealias OutboundOut = ByteBuffer

    private var pending: [Int64: EventLoopPromise<JSONValue>] = [:]

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let id = call.id, let reply = call.promise {
            pending[id] = reply
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            reply.futureResult.whenComplete { _ in
                bound.eventLoop.execute { bound.value.pending[id] = nil }
            }
        }
        var buffer = context.channel.allocator.buffer(capacity: call.line.count + 1)
        buffer.writeBytes(call.line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .line(let line) = unwrapInboundIn(data) else {
            return failAll(RPCError.tooLarge("reply larger than the client's limit"), context: context)
        }
        guard let reply = try? JSONCoding.parse(line.readableBytesView), case .object(let object) = reply,
            let id = object["id"]?.intValue, let promise = pending.removeValue(forKey: id)
        else {
            if let reply = try? JSONCoding.parse(line.readableBytesView), let error = reply["error"],
                let decoded = try? JSONCoding.convert(error, to: RPCError.self), reply["id"] == .null
            {
                // An error the server could not tie to a call (limits): it ends every call on this connection.
                failAll(decoded, context: context)
            }
            return
        }
        if let error = object["error"] {
            promise.fail(
                (try? JSONCoding.convert(error, to: RPCError.self)) ?? RPCError.internalError("malformed error reply"))
        } else {
            promise.succeed(object["result"] ?? .null)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RPCError.unavailable("the connection closed before the reply arrived"), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(RPCError.unavailable("connection error: \(type(of: error))"), context: context)
        context.close(promise: nil)
    }

    private func failAll(_ error: RPCError, context: ChannelHandlerContext) {
        let calls = pending
        pending = [:]
        for promise in calls.values { promise.fail(error) }
    }
}
