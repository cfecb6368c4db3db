import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Counts calls running across all connections, so shutdown can wait for them.
final class InFlightTracker: Sendable {
    private let count = NIOLockedValueBox(0)
    func begin() { count.withLockedValue { $0 += 1 } }
    func end() { count.withLockedValue { $0 -= 1 } }
    var current: Int { count.withLockedValue { $0 } }
}

/// Per-uid connection counts for `[rpc] max_connections_per_uid`.
final class ConnectionLimiter: Sendable {
    private let counts = NIOLockedValueBox([UInt32: Int]())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func acquire(_ uid: UInt32) -> Bool {
        counts.withLockedValue { counts in
            if counts[uid, default: 0] >= limit { return false }
            counts[uid, default: 0] += 1
            return true
        }
    }

    func release(_ uid: UInt32) {
        counts.withLockedValue { counts in
            counts[uid, default: 1] -= 1
            if counts[uid] == 0 { counts[uid] = nil }
        }
    }
}

/// The JSON-RPC server on an already bound and listening AF_UNIX socket: adopted from systemd
/// or bound by `ListeningSocket` when started by hand. One code path after the bind.
public final class RPCServer: Sendable {
    public let dispatcher: RPCDispatcher
    private let access: AccessPolicy
    private let limits: RPCLimits
    private let group: any EventLoopGroup
    private let logger: Logger
    private let tracker = InFlightTracker()
    private let limiter: ConnectionLimiter
    private let serverChannel = NIOLockedValueBox<(any Channel)?>(nil)
    private let clients = NIOLockedValueBox([ObjectIdentifier: any Channel]())

    public init(
        dispatcher: RPCDispatcher, access: AccessPolicy, limits: RPCLimits,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.dispatcher = dispatcher
        self.access = access
        self.limits = limits
        self.group = group
        self.logger = logger
        self.limiter = ConnectionLimiter(limit: limits.maxConnectionsPerUID)
    }

    public var callsInFlight: Int { tracker.current }

    /// Starts accepting on `fd`, a listening AF_UNIX stream socket the server now owns.
    public func start(listeningOn fd: CInt) async throws {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { [self] channel in
                channel.peerCredentials().flatMap { credentials in
                    self.configure(channel: channel, credentials: credentials)
                }
            }
            .withBoundSocket(fd)
            .get()
        serverChannel.withLockedValue { $0 = channel }
    }

    private func configure(channel: any Channel, credentials: PeerCredentials) -> EventLoopFuture<Void> {
        let caller = access.caller(for: credentials)
        guard limiter.acquire(credentials.uid) else {
            logger.warning("connection refused: per-uid limit", metadata: ["uid": "\(credentials.uid)"])
            let error = RPCError.tooManyConnections(
                "uid \(credentials.uid) already has \(limits.maxConnectionsPerUID) connections open")
            dispatcher.metrics.countError(error)
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RefuseConnectionHandler(error: error))
            }
        }
        let key = ObjectIdentifier(channel)
        clients.withLockedValue { $0[key] = channel }
        dispatcher.metrics.connectionOpened()
        channel.closeFuture.whenComplete { [self] _ in
            limiter.release(credentials.uid)
            clients.withLockedValue { $0[key] = nil }
            dispatcher.metrics.connectionClosed()
        }
        return channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLength: limits.maxLineBytes)))
            try sync.addHandler(
                RPCConnectionHandler(dispatcher: dispatcher, caller: caller, limits: limits, tracker: tracker))
        }
    }

    /// Stops accepting, lets running calls finish (up to `grace`), then closes every connection.
    public func shutdown(grace: Duration = .seconds(10)) async {
        let channel = serverChannel.withLockedValue { $0 }
        try? await channel?.close()
        let deadline = ContinuousClock.now.advanced(by: grace)
        while tracker.current > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for client in clients.withLockedValue({ Array($0.values) }) {
            try? await client.close()
        }
    }
}
