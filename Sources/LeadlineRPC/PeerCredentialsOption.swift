import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// `struct ucred` as the kernel fills it for SO_PEERCRED (pid, uid, gid: three 32-bit fields).
private struct KernelUcred {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

extension Channel {
    /// The credentials of the process that connected, from the kernel (SO_PEERCRED on AF_UNIX).
    public func peerCredentials() -> EventLoopFuture<PeerCredentials> {
        guard let provider = self as? SocketOptionProvider else {
            return eventLoop.makeFailedFuture(RPCError.permissionDenied("the channel has no peer credentials"))
        }
        let future: EventLoopFuture<KernelUcred> = provider.unsafeGetSocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
        return future.map { PeerCredentials(uid: $0.uid, gid: $0.gid, pid: $0.pid) }
    }
}
