import Foundation
import Logging
import NIOCore

/// One client connection: hands each line to the dispatcher, writes replies as they finish
/// (pipelined calls answer out of order, matched by id), and stops reading while too many of
/// its calls are running, so one hostile client slows only itself. It also closes the
/// connection once it has been idle (no line in, no reply out, no call running) for
/// `idleTimeout`: swift-nio's IdleStateHandler did that with a promise and a closure allocated
/// for every reply written, a twentieth of a ping's CPU.
final class RPCConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = LineFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let dispatcher: RPCDispatcher
    private let caller: Caller
    private let limits: RPCLimits
    private let tracker: InFlightTracker
    private var executor: EventLoopTaskExecutor?
    private var timeouts: CallTimeouts?
    private var inFlight = 0
    private var readPending = false
    private var closing = false
    private var lastActivity = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?

    init(dispatcher: RPCDispatcher, caller: Caller, limits: RPCLimits, tracker: InFlightTracker) {
        self.dispatcher = dispatcher
        self.caller = caller
        self.limits = limits
        self.tracker = tracker
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { checkIdle(at: .now() + limits.idleTimeout, context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        checkIdle(at: .now() + limits.idleTimeout, context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
        context.fireChannelInactive()
    }

    /// One timer per connection, moved forward by what happened meanwhile, rather than a timer
    /// touched on every line.
    private func checkIdle(at deadline: NIODeadline, context: ChannelHandlerContext) {
        idleCheck?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.idleCheckFired(context: context)
        }
    }

    private func idleCheckFired(context: ChannelHandlerContext) {
        idleCheck = nil
        let idleUntil = lastActivity + limits.idleTimeout
        if inFlight == 0 && NIODeadline.now() >= idleUntil {
            context.close(promise: nil)
        } else {
            checkIdle(at: inFlight > 0 ? .now() + limits.idleTimeout : idleUntil, context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        lastActivity = .now()
        switch unwrapInboundIn(data) {
        case .tooLong:
            closing = true
            let error = RPCError.tooLarge("line longer than \(limits.maxLineBytes) bytes; closing the connection")
            dispatcher.metrics.countError(error)
            var buffer = context.channel.allocator.buffer(capacity: 256)
            buffer.writeBytes(RPCResponseEncoder.failure(id: .null, error: error))
            buffer.writeInteger(UInt8(ascii: "\n"))
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
        case .line(let line):
            inFlight += 1
            tracker.begin()
            let executor = self.executor ?? EventLoopTaskExecutor(loop: context.eventLoop)
            self.executor = executor
            let timeouts = self.timeouts ?? CallTimeouts(loop: context.eventLoop)
            self.timeouts = timeouts
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            dispatcher.handle(line: line.readableBytesView, caller: caller, on: executor, timeouts: timeouts) { reply in
                // Most calls finish on the loop itself; only a reply from elsewhere needs a hop.
                if bound.eventLoop.inEventLoop {
                    let (handler, context) = bound.value
                    handler.finished(context: context, reply: reply)
                } else {
                    bound.eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.finished(context: context, reply: reply)
                    }
                }
            }
        }
    }

    private func finished(context: ChannelHandlerContext, reply: Data?) {
        inFlight -= 1
        tracker.end()
        lastActivity = .now()
        if let reply, context.channel.isActive {
            var buffer = context.channel.allocator.buffer(capacity: reply.count + 1)
            buffer.writeBytes(reply)
            buffer.writeInteger(UInt8(ascii: "\n"))
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
        if readPending && inFlight < limits.maxInFlightPerConnection {
            readPending = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if inFlight >= limits.maxInFlightPerConnection {
            readPending = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset or a vanished peer: nothing to answer, just let go of the connection.
        context.close(promise: nil)
    }
}

/// Answers a connection that is over its uid's limit with one error line, then closes it.
final class RefuseConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let error: RPCError
    private var sent = false

    init(error: RPCError) {
        self.error = error
    }

    func channelActive(context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        var buffer = context.channel.allocator.buffer(capacity: 256)
        buffer.writeBytes(RPCResponseEncoder.failure(id: .null, error: error))
        buffer.writeInteger(UInt8(ascii: "\n"))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { channelActive(context: context) }
    }
}
