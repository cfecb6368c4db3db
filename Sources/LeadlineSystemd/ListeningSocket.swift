import CSystemd  // its headers own <sys/socket.h> declarations in whole-module builds
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

public struct ListeningSocketError: Error, CustomStringConvertible {
    public var description: String
}

/// Binds what systemd would have bound, for a daemon started by hand. The result is a plain
/// listening fd, handed to the same adoption path as a socket-activated one.
public enum ListeningSocket {
    /// Binds `path` with `mode`. A stale socket file (nobody accepting) is replaced; a path a
    /// live process is serving is refused, so two daemons never fight over one socket.
    public static func bindUnix(path: String, mode: mode_t = 0o660) throws -> CInt {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if isServed(path: path) {
            throw ListeningSocketError(description: "\(path) is already served by a running process; stop it first")
        }
        if FileManager.default.fileExists(atPath: path) { unlink(path) }

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw errnoError("socket") }
        var address = try unixAddress(path)
        // Bind with a tight umask, then widen to the configured mode: never a moment of wider access.
        let previousMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previousMask)
        guard bound == 0 else {
            let error = errnoError("bind \(path)")
            close(fd)
            throw error
        }
        guard chmod(path, mode) == 0, listen(fd, 256) == 0 else {
            let error = errnoError("listen \(path)")
            close(fd)
            throw error
        }
        return fd
    }

    /// Binds a TCP listener on "host:port" (the webhook endpoint when not socket-activated).
    public static func bindTCP(_ hostPort: String) throws -> CInt {
        guard let colon = hostPort.lastIndex(of: ":"), let port = UInt16(hostPort[hostPort.index(after: colon)...])
        else { throw ListeningSocketError(description: "'\(hostPort)' is not host:port") }
        let host = String(hostPort[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else {
            throw ListeningSocketError(description: "'\(host)' is not a numeric IP address")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw errnoError("socket") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 1024) == 0 else {
            let error = errnoError("bind \(hostPort)")
            close(fd)
            throw error
        }
        return fd
    }

    /// The port a TCP listener ended up on (for port 0 in tests).
    public static func localPort(of fd: CInt) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
        default: return nil
        }
    }

    /// True when something accepts connections on `path` right now.
    public static func isServed(path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard var address = try? unixAddress(path) else { return false }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    static func unixAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw ListeningSocketError(description: "socket path \(path) is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    static func errnoError(_ what: String) -> ListeningSocketError {
        ListeningSocketError(description: "\(what): \(String(cString: strerror(errno)))")
    }
}
