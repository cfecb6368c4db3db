import Foundation
import LeadlineHTTP
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// The four executables under real socket activation, talking over the real socket.
@Suite struct SocketActivationTests {
    @Test(arguments: ["vault", "ingest", "router", "audit"])
    func everyDaemonAnswersTheCommonMethods(service: String) async throws {
        let stack = try TestStack()
        try stack.start(service, webhook: service == "ingest")
        let client = stack.client(service)

        let ping = try await client.call("service.ping")
        #expect(ping["pong"] == .bool(true))
        let info = try await client.call("service.info")
        #expect(info["name"] == .string(service))
        #expect(info["storagePath"]?.stringValue == stack.databasePath(service))
        let discover = try await client.call("rpc.discover")
        #expect(discover["openrpc"]?.stringValue?.hasPrefix("1.") == true)
        let metrics = try await client.call("service.metrics")
        #expect(
            metrics["text"]?.stringValue?.contains(
                "leadline_rpc_calls_total{service=\"\(service)\",method=\"service.ping\"} 1") == true)
        let text = metrics["text"]?.stringValue ?? ""
        for family in ["leadline_storage_commits_total", "leadline_storage_grouped_writes_total"] {
            let line = text.split(separator: "\n").first { $0.hasPrefix("\(family){service=\"\(service)\"} ") }
            #expect(line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } != nil, "\(family) missing")
        }
        let level = try await client.call("service.setLogLevel", params: ["level": "debug"])
        #expect(level == .object(["level": "debug", "previous": "info"]))

        try stack.stop(service)
        #expect(stack.log(service).contains("adopted the rpc socket from systemd"))
        stack.removeFiles()
    }

    /// The crash test's stand-in for systemd: the socket outlives a SIGKILLed daemon, a client
    /// that connects while it is down waits in the backlog, and the restarted daemon (same
    /// socket, LISTEN_PID its own) answers it. Ingest gets its webhook port the same way.
    @Test func aKilledDaemonRestartsOnTheSocketItWasStartedWith() async throws {
        let stack = try TestStack()
        let supervisor = try SocketActivationSupervisor(stack: stack, services: ["audit", "ingest"])
        try supervisor.start("audit")
        let audit = RPCClient(socketPath: stack.socketPath("audit"))
        #expect(try await audit.call("service.ping", params: nil)["pong"] == .bool(true))

        try supervisor.stop("audit", signal: SIGKILL)
        let waiting = try RawSocket(path: stack.socketPath("audit"))
        try waiting.send(#"{"jsonrpc":"2.0","method":"service.ping","id":"queued"}"# + "\n")
        try supervisor.start("audit")
        let reply = try #require(try waiting.readJSON() as? [String: Any])
        #expect(reply["id"] as? String == "queued")
        #expect(supervisor.reapUnexpectedExits().isEmpty)

        try supervisor.start("ingest")
        let port = try #require(supervisor.webhookPort)
        try await eventually {
            try await HTTPClient().send(HTTPRequest(url: "http://127.0.0.1:\(port)/healthz")).status == 200
        }
        supervisor.stopAll()
        await audit.close()
        #expect(stack.log("audit").components(separatedBy: "adopted the rpc socket from systemd").count == 3)
        #expect(stack.log("ingest").contains("adopted the webhook socket from systemd"))
        stack.removeFiles()
    }
}
