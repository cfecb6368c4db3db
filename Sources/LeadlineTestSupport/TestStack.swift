import Foundation
import LeadlineRPC
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// Real daemons for a test: built executables started under `systemd-socket-activate` (the
/// real LISTEN_FDS/LISTEN_FDNAMES protocol), one temporary folder for config, state, sockets
/// and credentials, and clients that record every call for the schema check.
public final class TestStack: @unchecked Sendable {
    public let root: String
    public let configPath: String
    public let runtimeDir: String
    public let stateDir: String
    public let credentialsDir: String
    public let userName: String
    private let lock = NSLock()
    private var processes: [String: ChildProcess] = [:]
    private var clients: [String: RecordingClient] = [:]
    private var webhookPort: Int?
    private let environment: [String: String]

    /// - extraConfig: TOML appended to the generated config (sections not generated here).
    public init(extraConfig: String = "", environment: [String: String] = [:], access: String? = nil) throws {
        AbandonedStacks.swept
        root = try TestStack.makeTemporaryDirectory()
        configPath = "\(root)/leadline.toml"
        runtimeDir = "\(root)/run"
        stateDir = "\(root)/state"
        credentialsDir = "\(root)/credentials"
        userName = UserAccount.lookup(uid: getuid())?.name ?? "root"
        self.environment = environment
        for directory in [runtimeDir, stateDir, credentialsDir] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try TestStack.randomBytes(32).write(to: URL(fileURLWithPath: "\(credentialsDir)/master-key"))
        try TestStack.randomBytes(32).write(to: URL(fileURLWithPath: "\(credentialsDir)/audit-signing-key"))
        let accessSection =
            access ?? """
                [access]
                admins = ["\(userName)"]
                submitters = ["\(userName)"]

                [access.services]
                vault = "\(userName)"
                ingest = "\(userName)"
                router = "\(userName)"
                audit = "\(userName)"
                """
        let config = """
            [paths]
            runtime_dir = "\(runtimeDir)"
            state_dir = "\(stateDir)"

            \(accessSection)

            \(extraConfig)
            """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit {
        stopAll()
    }

    public func socketPath(_ service: String) -> String { "\(runtimeDir)/\(service).sock" }
    public func databasePath(_ service: String) -> String { "\(stateDir)/\(service)/\(service).sqlite" }

    /// Where the built executables are: beside the test binary (.build/debug), or LEADLINE_BIN_DIR.
    public static var binDirectory: String {
        if let explicit = ProcessInfo.processInfo.environment["LEADLINE_BIN_DIR"] { return explicit }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("leadline-vault").path) {
                return url.path
            }
        }
        return FileManager.default.currentDirectoryPath + "/.build/debug"
    }

    /// Starts `leadline-<service>` the way systemd does: the socket is bound by the activator,
    /// the daemon is exec'd on the first connection with the fd named "rpc" (and "webhook").
    @discardableResult
    public func start(_ service: String, webhook: Bool = false, extraEnvironment: [String: String] = [:]) throws
        -> ChildProcess
    {
        let activator = "/usr/bin/systemd-socket-activate"
        guard FileManager.default.isExecutableFile(atPath: activator) else {
            throw TestStackError("systemd-socket-activate is missing: run `make deps`")
        }
        unlink(socketPath(service))
        var arguments = ["-l", socketPath(service)]
        var names = "rpc"
        if webhook {
            let port = try webhookPortReserved()
            arguments += ["-l", "127.0.0.1:\(port)"]
            names += ":webhook"
        }
        arguments.append("--fdname=\(names)")
        for (key, value) in daemonEnvironment(extraEnvironment).sorted(by: { $0.key < $1.key }) {
            arguments += ["-E", "\(key)=\(value)"]
        }
        arguments.append("\(TestStack.binDirectory)/leadline-\(service)")

        let logOffset = log(service).utf8.count
        let process = try ChildProcess(
            path: activator, arguments: arguments, environment: [:], logPath: logPath(service))
        lock.withLock { processes[service] = process }
        // The file appears at bind(), a moment before listen(): wait for the listening state so the
        // first connect is not refused, without connecting (which would start the daemon early).
        try waitFor(timeout: 10) { TestStack.isListening(self.socketPath(service)) }
        if webhook {
            // The activator binds the TCP port after the rpc path: wait for its "Listening on" line,
            // counted from this start so a restart after a crash waits for the new bind.
            let listener = "Listening on 127.0.0.1:\(try webhookPortReserved()) "
            try waitFor(timeout: 10) {
                String(decoding: self.log(service).utf8.dropFirst(logOffset), as: UTF8.self).contains(listener)
            }
        }
        return process
    }

    /// What a daemon of this stack runs with (besides the LISTEN_* variables).
    public func daemonEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        var variables = [
            "LEADLINE_CONFIG": configPath, "CREDENTIALS_DIRECTORY": credentialsDir, "LEADLINE_CHECK_RESULTS": "1",
            "PATH": "/usr/bin:/bin", "HOME": root,
        ]
        variables.merge(environment) { $1 }
        variables.merge(extra) { $1 }
        return variables
    }

    public func logPath(_ service: String) -> String { "\(root)/\(service).log" }

    public func log(_ service: String) -> String {
        (try? String(contentsOfFile: logPath(service), encoding: .utf8)) ?? ""
    }

    /// The loopback port of ingest's webhook listener (chosen once per stack).
    public func webhookPortReserved() throws -> Int {
        try lock.withLock {
            if let webhookPort { return webhookPort }
            let port = try TestStack.freePort()
            webhookPort = port
            return port
        }
    }

    public func process(_ service: String) -> ChildProcess? { lock.withLock { processes[service] } }

    /// Sends `signal` and waits for the process to exit.
    public func stop(_ service: String, signal: Int32 = SIGTERM, timeout: Double = 15) throws {
        guard let process = lock.withLock({ processes.removeValue(forKey: service) }) else { return }
        process.signal(signal)
        do {
            try process.waitForExit(timeout: timeout)
        } catch {
            // systemd-socket-activate ignores SIGTERM while it waits for a first connection:
            // never leave it behind, but still report that the stop was not clean.
            process.signal(SIGKILL)
            try? process.waitForExit(timeout: 5)
            throw error
        }
        if let client = lock.withLock({ clients.removeValue(forKey: service) }) {
            let inner = client.client
            Task { await inner.close() }
        }
    }

    /// SIGKILL then start again, as systemd's Restart= would.
    public func crashAndRestart(_ service: String, webhook: Bool = false) throws {
        try stop(service, signal: SIGKILL)
        try start(service, webhook: webhook)
    }

    public func stopAll() {
        let all = lock.withLock { processes }
        for (service, _) in all { try? stop(service, signal: SIGTERM, timeout: 10) }
    }

    /// A client for `service` that records each call for the schema check.
    public func client(_ service: String) -> RecordingClient {
        lock.withLock {
            if let client = clients[service] { return client }
            let client = RecordingClient(service: service, socketPath: socketPath(service))
            clients[service] = client
            return client
        }
    }

    /// Removes the folder (call at the end of a passing test; failing ones keep it for a look).
    public func removeFiles() {
        stopAll()
        try? FileManager.default.removeItem(atPath: root)
    }

    // MARK: helpers

    /// True when a Unix socket bound at `path` is in the listening state (/proc/net/unix flag __SO_ACCEPTCON).
    public static func isListening(_ path: String) -> Bool {
        // procfs files report size 0: read to EOF rather than trusting a size-based read.
        guard let handle = FileHandle(forReadingAtPath: "/proc/net/unix") else {
            return FileManager.default.fileExists(atPath: path)
        }
        defer { try? handle.close() }
        let table = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 8, fields[7] == path, let flags = UInt32(fields[3], radix: 16) else { continue }
            if flags & 0x10000 != 0 { return true }
        }
        return false
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/llt-XXXXXX".utf8CString)
        guard let pointer = mkdtemp(&template) else { throw TestStackError("mkdtemp failed") }
        let folder = String(cString: pointer)
        try AbandonedStacks.currentOwner.write(
            toFile: "\(folder)/\(AbandonedStacks.ownerFile)", atomically: false, encoding: .utf8)
        return folder
    }

    public static func randomBytes(_ count: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw TestStackError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct TestStackError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `timeout` seconds pass, by the monotonic clock: this VM's
/// wall clock has been seen to step forward mid-test, and a wait of 20 s then gave up after 4.
public func waitFor(timeout: Double, _ condition: () throws -> Bool) throws {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(timeout * 1000)))
    while ContinuousClock.now < deadline {
        if try condition() { return }
        usleep(10_000)
    }
    throw TestStackError("condition not met within \(timeout) s")
}

/// Async polling, for conditions that need a daemon call (monotonic, as `waitFor`).
public func eventually(timeout: Double = 10, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(timeout * 1000)))
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TestStackError("condition not met within \(timeout) s")
}
