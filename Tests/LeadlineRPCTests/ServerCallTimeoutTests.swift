import Foundation
import LeadlineRPC
import LeadlineSystemd
import LeadlineTestSupport
import Logging
import Testing

/// Call timeouts through a real socket, where each connection keeps its calls' deadlines
/// behind one timer: a call past its time is answered with Timeout, the calls pipelined
/// behind it are answered as they finish, and the connection goes on serving.
@Suite struct ServerCallTimeoutTests {
    @Test func aCallPastItsTimeoutIsAnsweredAndTheConnectionServesOn() async throws {
        var table = RPCMethodTable()
        table.registerRaw("test.sleep", .anyone) { _, _ in
            try await Task.sleep(for: .seconds(10))
            return .null
        }
        table.registerRaw("test.echo", .anyone) { params, _ in params ?? .null }
        let limits = RPCLimits(callTimeout: .milliseconds(300))
        let server = RPCServer(
            dispatcher: RPCDispatcher(table: table, callTimeout: limits.callTimeout), access: AccessPolicy(),
            limits: limits, logger: Logger(label: "test.rpc"))
        let path = NSTemporaryDirectory() + "llrpc-timeout-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
        try await server.start(listeningOn: try ListeningSocket.bindUnix(path: path))
        defer { unlink(path) }

        let socket = try RawSocket(path: path)
        let started = Date()
        try socket.send(
            #"{"jsonrpc":"2.0","method":"test.sleep","id":1}"# + "\n"
                + #"{"jsonrpc":"2.0","method":"test.echo","params":{"n":2},"id":2}"# + "\n")
        let first = try #require(try socket.readJSON() as? [String: Any])
        #expect(first["id"] as? Int == 2)
        let second = try #require(try socket.readJSON() as? [String: Any])
        #expect(second["id"] as? Int == 1)
        let error = try #require(second["error"] as? [String: Any])
        #expect(error["code"] as? Int == -32007)
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 0.3 && elapsed < 5, "answered after \(elapsed) s")

        // A second slow call on the same connection is timed out as well, then a quick one answers.
        try socket.send(#"{"jsonrpc":"2.0","method":"test.sleep","id":3}"# + "\n")
        let third = try #require(try socket.readJSON() as? [String: Any])
        #expect((third["error"] as? [String: Any])?["code"] as? Int == -32007)
        try socket.send(#"{"jsonrpc":"2.0","method":"test.echo","params":{"n":4},"id":4}"# + "\n")
        let fourth = try #require(try socket.readJSON() as? [String: Any])
        #expect(fourth["id"] as? Int == 4)
        await server.shutdown(grace: .seconds(1))
    }
}
