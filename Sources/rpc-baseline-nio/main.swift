// rpc-baseline-nio PATH: the RPC benchmark's second baseline. swift-nio with nothing of
// Leadline's on top: every newline read is answered with the C baseline's fixed ping reply,
// on the event loops the daemons use (one per core). Between it and rpc-baseline-c lies what
// the event-loop library costs on this machine; between it and a daemon, what Leadline's own
// framing, dispatch and JSON cost.
import Foundation
import NIOCore
import NIOPosix

/// The same bytes rpc-baseline-c answers with.
let reply = Array(#"{"jsonrpc":"2.0","result":{"pong":true,"time":"2026-12-01T10:00:00.000Z"},"id":1}"#.utf8) + [0x0A]

/// Replies are fixed, so a request is complete when its newline arrives: count newlines, keep
/// nothing else.
final class PingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let requests = unwrapInboundIn(data).readableBytesView.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        guard requests > 0 else { return }
        var out = context.channel.allocator.buffer(capacity: reply.count * requests)
        for _ in 0..<requests { out.writeBytes(reply) }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: rpc-baseline-nio PATH\n".utf8))
    exit(2)
}
let path = CommandLine.arguments[1]
try? FileManager.default.removeItem(atPath: path)
let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.backlog, value: 256)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(PingHandler()) }
    }
    .bind(unixDomainSocketPath: path).wait()
try server.closeFuture.wait()
