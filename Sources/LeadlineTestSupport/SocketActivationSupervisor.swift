import Foundation
import LeadlineSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Plays systemd's part for crash tests: the listening sockets (each daemon's "rpc" socket and
/// ingest's "webhook" port) belong to this process, as they belong to the socket units, and
/// survive a daemon's death. A restarted daemon gets the same sockets as fds 3… with
/// LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID, so clients queue in the backlog while it is down
/// instead of being refused. (`systemd-socket-activate` execs the daemon itself: killing the
/// daemon would close the socket.)
public final class SocketActivationSupervisor: @unchecked Sendable {
    public static let allServices = ["vault", "ingest", "router", "audit"]

    public let stack: TestStack
    /// The loopback port of ingest's webhook socket; nil when ingest is not supervised.
    public let webhookPort: Int?
    private let environment: [String: String]
    private let sockets: [String: [(name: String, fd: Int32)]]
    private let lock = NSLock()
    private var children: [String: ChildProcess] = [:]

    /// Binds every service's sockets now; no daemon runs until `start`.
    public init(stack: TestStack, services: [String] = allServices, environment: [String: String] = [:]) throws {
        self.stack = stack
        self.environment = environment
        var sockets: [String: [(name: String, fd: Int32)]] = [:]
        var webhookPort: Int?
        for service in services {
            var held = [(name: "rpc", fd: try Self.hold(ListeningSocket.bindUnix(path: stack.socketPath(service))))]
            if service == "ingest" {
                let webhook = try Self.hold(ListeningSocket.bindTCP("127.0.0.1:0"))
                webhookPort = ListeningSocket.localPort(of: webhook)
                held.append((name: "webhook", fd: webhook))
            }
            sockets[service] = held
        }
        self.sockets = sockets
        self.webhookPort = webhookPort
    }

    deinit {
        stopAll()
        for held in sockets.values { for socket in held { close(socket.fd) } }
    }

    public var services: [String] { sockets.keys.sorted() }

    /// Starts the daemon on its held sockets, as systemd starts a socket-activated service.
    public func start(_ service: String) throws {
        guard let held = sockets[service] else { throw TestStackError("\(service) is not supervised") }
        var variables = stack.daemonEnvironment(environment)
        variables["LISTEN_FDS"] = String(held.count)
        variables["LISTEN_FDNAMES"] = held.map(\.name).joined(separator: ":")
        let binary = "\(TestStack.binDirectory)/leadline-\(service)"
        // LISTEN_PID must be the daemon's own pid, unknown before the spawn: the shell sets it to
        // its own pid and then becomes the daemon through exec, keeping that pid.
        let child = try ChildProcess(
            path: "/bin/sh", arguments: ["-c", #"LISTEN_PID=$$ exec "$0" "$@""#, binary], environment: variables,
            logPath: stack.logPath(service), passing: held.map(\.fd))
        lock.withLock { children[service] = child }
    }

    /// Sends `signal` and waits until the daemon is gone; its sockets stay open here.
    public func stop(_ service: String, signal: Int32 = SIGTERM, timeout: Double = 15) throws {
        guard let child = lock.withLock({ children.removeValue(forKey: service) }) else { return }
        child.signal(signal)
        do {
            try child.waitForExit(timeout: timeout)
        } catch {
            child.signal(SIGKILL)
            try? child.waitForExit(timeout: 5)
            throw TestStackError("leadline-\(service) did not stop within \(timeout) s of signal \(signal)")
        }
    }

    /// The running daemon's process, nil when stopped.
    public func process(_ service: String) -> ChildProcess? { lock.withLock { children[service] } }

    /// Daemons that exited although nobody stopped them, with their raw wait status; each is
    /// forgotten, so the caller can restart it (Restart=on-failure) and report it.
    public func reapUnexpectedExits() -> [(service: String, status: Int32)] {
        lock.withLock {
            var exited: [(service: String, status: Int32)] = []
            for (service, child) in children {
                if let status = child.exitStatus {
                    exited.append((service, status))
                    children[service] = nil
                }
            }
            return exited
        }
    }

    public func stopAll() {
        for service in lock.withLock({ Array(children.keys) }) { try? stop(service, timeout: 10) }
    }

    /// Moves a listening fd out of the range passed to children (3…) and widens its backlog to
    /// systemd's default (Backlog=SOMAXCONN): while a daemon is down, clients wait there.
    private static func hold(_ fd: Int32) throws -> Int32 {
        defer { close(fd) }
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 64)
        guard moved >= 0 else { throw TestStackError("cannot hold a socket: \(String(cString: strerror(errno)))") }
        guard listen(moved, SOMAXCONN) == 0 else {
            close(moved)
            throw TestStackError("cannot widen a socket's backlog: \(String(cString: strerror(errno)))")
        }
        return moved
    }
}
