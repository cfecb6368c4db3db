import Foundation
import LeadlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Starting by hand: bind the same path, refuse a served one, refuse bad config with one line.
@Suite struct StartupTests {
    func run(_ service: String, stack: TestStack, config: String? = nil, timeout: Double = 10) throws -> (
        Int32?, String
    ) {
        let log = stack.root + "/\(service)-manual-\(UUID().uuidString.prefix(6)).log"
        let child = try ChildProcess(
            path: "\(TestStack.binDirectory)/leadline-\(service)", arguments: [],
            environment: [
                "LEADLINE_CONFIG": config ?? stack.configPath, "CREDENTIALS_DIRECTORY": stack.credentialsDir,
                "PATH": "/usr/bin:/bin",
            ], logPath: log)
        try? child.waitForExit(timeout: timeout)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if child.isRunning { child.signal(SIGKILL) }
        return (child.exitCode, output)
    }

    @Test func startedByHandItBindsTheConfiguredPathAndStopsCleanlyOnSIGTERM() throws {
        let stack = try TestStack()
        let log = stack.root + "/manual.log"
        let child = try ChildProcess(
            path: "\(TestStack.binDirectory)/leadline-vault", arguments: [],
            environment: ["LEADLINE_CONFIG": stack.configPath, "CREDENTIALS_DIRECTORY": stack.credentialsDir],
            logPath: log)
        try waitFor(timeout: 10) { FileManager.default.fileExists(atPath: stack.socketPath("vault")) }
        let socket = try RawSocket(path: stack.socketPath("vault"))
        try socket.send(#"{"jsonrpc":"2.0","method":"service.ping","id":1}"# + "\n")
        #expect((try socket.readJSON() as? [String: Any])?["result"] != nil)
        let mode =
            try FileManager.default.attributesOfItem(atPath: stack.socketPath("vault"))[.posixPermissions] as? Int
        #expect(mode == 0o660)

        // A second instance must not steal the live socket.
        let (code, output) = try run("vault", stack: stack)
        #expect(code == 78)
        #expect(output.contains("already served"))

        child.signal(SIGTERM)
        try child.waitForExit(timeout: 10)
        #expect(child.exitCode == 0)
        stack.removeFiles()
    }

    @Test func aBadConfigStopsTheDaemonWithOneLineNamingTheKey() throws {
        let stack = try TestStack()
        let bad = stack.root + "/bad.toml"
        try "[paths]\nruntime_dir = \"\(stack.runtimeDir)\"\n[ingest]\nmax_body_bytez = 1\n".write(
            toFile: bad, atomically: true, encoding: .utf8)
        let (code, output) = try run("ingest", stack: stack, config: bad)
        #expect(code == 78)
        #expect(output.contains("\(bad): key 'ingest.max_body_bytez': unknown key"))
        #expect(output.split(separator: "\n").count == 1)
        stack.removeFiles()
    }
}
