import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// The sockets systemd passed us (LISTEN_FDS/LISTEN_FDNAMES), by FileDescriptorName.
public struct ListenFDs: Sendable {
    public private(set) var byName: [String: [CInt]]

    /// Reads and clears the LISTEN_* variables, so children we spawn do not adopt our sockets.
    public static func fromEnvironment() -> ListenFDs {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else { return ListenFDs(byName: [:]) }
        var byName: [String: [CInt]] = [:]
        for index in 0..<Int(count) {
            let fd = leadline_sd_listen_fds_start() + CInt(index)
            let name = names?[index].map { String(cString: $0) } ?? "unknown"
            byName[name, default: []].append(fd)
            // Adopted sockets must not leak into any process we exec.
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        if let names {
            for index in 0..<Int(count) { free(names[index]) }
            free(names)
        }
        return ListenFDs(byName: byName)
    }

    public init(byName: [String: [CInt]]) {
        self.byName = byName
    }

    /// Takes the first fd of that name out of the set: each fd gets exactly one owner.
    public mutating func take(_ name: String) -> CInt? {
        guard var fds = byName[name], !fds.isEmpty else { return nil }
        let fd = fds.removeFirst()
        byName[name] = fds.isEmpty ? nil : fds
        return fd
    }

    public var isEmpty: Bool { byName.isEmpty }

    public static func isUnixStreamSocket(_ fd: CInt) -> Bool {
        sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0
    }

    public static func isInetStreamSocket(_ fd: CInt) -> Bool {
        sd_is_socket_inet(fd, 0, Int32(SOCK_STREAM.rawValue), 1, 0) > 0
    }
}
