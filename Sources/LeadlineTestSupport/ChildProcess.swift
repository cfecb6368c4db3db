import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child started with posix_spawn and reaped with waitpid by us alone: exact exit status,
/// no dependence on Foundation's shared SIGCHLD machinery when many children exit at once.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?

    /// Starts `path` with `arguments`; stdout and stderr append to `logPath`. `passing` becomes
    /// the child's fds 3, 4, … in order (as systemd passes sockets); no other fd of ours leaks in.
    public init(
        path: String, arguments: [String], environment: [String: String]? = nil, logPath: String,
        errorPath: String? = nil, inputPath: String? = nil, passing descriptors: [Int32] = []
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inputPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        for (index, descriptor) in descriptors.enumerated() {
            // A source below the first target could be overwritten by an earlier dup2.
            precondition(descriptor >= 3 + Int32(descriptors.count), "pass descriptors above the target range")
            posix_spawn_file_actions_adddup2(&actions, descriptor, 3 + Int32(index))
        }
        ChildProcess.closeOthers(from: 3 + Int32(descriptors.count), in: &actions)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }
        // The test runner's threads may block or ignore signals; a child must start as a shell
        // would start it, with every signal unblocked and at its default action.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, &attributes, argv, env)
        guard result == 0 else { throw TestStackError("posix_spawn \(path): \(String(cString: strerror(result)))") }
        pid = child
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+) is not in Swift's Glibc module:
    /// looked up at run time. Without it, only our CLOEXEC flags keep fds out of the child.
    private static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()

    private static func closeOthers(from first: Int32, in actions: inout posix_spawn_file_actions_t) {
        _ = closeFrom?(&actions, first)
    }

    /// Nil while running; the raw wait status once exited.
    public var exitStatus: Int32? {
        lock.withLock {
            if status == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            }
            return status
        }
    }

    public var isRunning: Bool { exitStatus == nil }

    /// The exit code when it exited normally, nil when a signal ended it (or still running).
    public var exitCode: Int32? {
        guard let status = exitStatus, status & 0x7f == 0 else { return nil }
        return (status >> 8) & 0xff
    }

    public func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    public func waitForExit(timeout: Double) throws {
        try waitFor(timeout: timeout) { !self.isRunning }
    }
}
