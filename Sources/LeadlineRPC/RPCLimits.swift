import NIOCore

/// The `[rpc]` limits. Every one is configurable; these defaults are DESIGN.md's.
public struct RPCLimits: Sendable, Hashable {
    public var maxLineBytes: Int
    public var maxConnectionsPerUID: Int
    public var idleTimeout: TimeAmount
    public var callTimeout: TimeAmount
    /// Calls a single connection may have running at once; beyond it reading pauses (backpressure).
    public var maxInFlightPerConnection: Int

    public init(
        maxLineBytes: Int = 1 << 20, maxConnectionsPerUID: Int = 64, idleTimeout: TimeAmount = .seconds(300),
        callTimeout: TimeAmount = .seconds(30), maxInFlightPerConnection: Int = 128
    ) {
        self.maxLineBytes = maxLineBytes
        self.maxConnectionsPerUID = maxConnectionsPerUID
        self.idleTimeout = idleTimeout
        self.callTimeout = callTimeout
        self.maxInFlightPerConnection = maxInFlightPerConnection
    }
}
