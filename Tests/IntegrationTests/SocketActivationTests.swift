import Foundation
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
        let level = try await client.call("service.setLogLevel", params: ["level": "debug"])
        #expect(level == .object(["level": "debug", "previous": "info"]))

        try stack.stop(service)
        #expect(stack.log(service).contains("adopted the rpc socket from systemd"))
        stack.removeFiles()
    }
}
