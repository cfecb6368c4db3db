import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The wire protocol against a real, socket-activated daemon, byte for byte.
@Suite(.serialized) struct WireProtocolTests {
    static let limits = """
        [rpc]
        max_line_bytes = 4096
        max_connections_per_uid = 6
        idle_timeout_seconds = 2
        """

    func withDaemon(_ body: (TestStack) async throws -> Void) async throws {
        let stack = try TestStack(extraConfig: Self.limits)
        try stack.start("audit")
        try await body(stack)
        // The daemon kept serving through whatever the test threw at it. Connections the test
        // closed are released as the daemon reads their end, a moment later: until then the
        // uid's limit may still refuse a new one, which is the limit working, not a failure.
        var reply: [String: Any] = [:]
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            let after = try RawSocket(path: stack.socketPath("audit"))
            try after.send(#"{"jsonrpc":"2.0","method":"service.ping","id":"after"}"# + "\n")
            reply = try #require(try after.readJSON() as? [String: Any])
            guard object(object(reply["error"])?["data"])?["name"] as? String == "TooManyConnections" else { break }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        #expect(reply["id"] as? String == "after")
        try stack.stop("audit")
        stack.removeFiles()
    }

    func object(_ value: Any?) -> [String: Any]? { value as? [String: Any] }
    func errorCode(_ value: Any?) -> Int? { object(object(value)?["error"])?["code"] as? Int }

    @Test func specificationCasesOverTheSocket() async throws {
        try await withDaemon { stack in
            let socket = try RawSocket(path: stack.socketPath("audit"))
            // Named params to a real method.
            try socket.send(
                #"{"jsonrpc":"2.0","method":"service.setLogLevel","params":{"level":"info"},"id":1}"# + "\n")
            #expect(object(object(try socket.readJSON())?["result"])?["level"] as? String == "info")
            // Positional params where names are required: invalid params.
            try socket.send(#"{"jsonrpc":"2.0","method":"service.setLogLevel","params":["info"],"id":2}"# + "\n")
            #expect(errorCode(try socket.readJSON()) == -32602)
            // A notification gets no reply: the next line's reply comes first.
            try socket.send(#"{"jsonrpc":"2.0","method":"service.ping"}"# + "\n")
            try socket.send(#"{"jsonrpc":"2.0","method":"nope","id":"3"}"# + "\n")
            let unknown = object(try socket.readJSON())
            #expect(unknown?["id"] as? String == "3")
            #expect(errorCode(unknown) == -32601)
            // Invalid JSON, invalid request, empty batch.
            try socket.send(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"# + "\n")
            #expect(errorCode(try socket.readJSON()) == -32700)
            try socket.send(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"# + "\n")
            #expect(errorCode(try socket.readJSON()) == -32600)
            try socket.send("[]\n")
            #expect(errorCode(try socket.readJSON()) == -32600)
            try socket.send("[1,2,3]\n")
            #expect((try socket.readJSON() as? [Any])?.count == 3)
            // A mixed batch: answers for calls and invalid members, none for notifications.
            try socket.send(
                #"[{"jsonrpc":"2.0","method":"service.ping","id":"a"},{"jsonrpc":"2.0","method":"service.ping"},{"foo":"boo"},{"jsonrpc":"2.0","method":"nope","id":"b"}]"#
                    + "\n")
            let batch = try #require(try socket.readJSON() as? [[String: Any]])
            #expect(batch.count == 3)
            #expect(Set(batch.compactMap { $0["id"] as? String }) == ["a", "b"])
            // A batch of notifications only: nothing comes back, the ping after it answers first.
            try socket.send(
                #"[{"jsonrpc":"2.0","method":"service.ping"},{"jsonrpc":"2.0","method":"service.info"}]"# + "\n")
            try socket.send(#"{"jsonrpc":"2.0","method":"service.ping","id":"last"}"# + "\n")
            #expect(object(try socket.readJSON())?["id"] as? String == "last")
        }
    }

    @Test func crlfTerminatedLinesAreAccepted() async throws {
        try await withDaemon { stack in
            let socket = try RawSocket(path: stack.socketPath("audit"))
            try socket.send(#"{"jsonrpc":"2.0","method":"service.ping","id":1}"# + "\r\n")
            #expect(object(try socket.readJSON())?["result"] != nil)
        }
    }

    @Test func invalidUTF8IsAParseErrorAndTheConnectionStaysUsable() async throws {
        try await withDaemon { stack in
            let socket = try RawSocket(path: stack.socketPath("audit"))
            try socket.send(
                Array(#"{"jsonrpc":"2.0","method":"service.ping","id":""#.utf8) + [0xFF, 0xFE] + Array("\"}\n".utf8))
            #expect(errorCode(try socket.readJSON()) == -32700)
            try socket.send(#"{"jsonrpc":"2.0","method":"service.ping","id":2}"# + "\n")
            #expect(object(try socket.readJSON())?["id"] as? Int == 2)
        }
    }

    @Test func anOversizedLineGetsAnErrorThenTheConnectionCloses() async throws {
        try await withDaemon { stack in
            let socket = try RawSocket(path: stack.socketPath("audit"))
            let padding = String(repeating: "x", count: 5000)
            try? socket.send(
                #"{"jsonrpc":"2.0","method":"service.ping","params":{"pad":""# + padding + "\"},\"id\":1}\n")
            let reply = object(try socket.readJSON())
            #expect(errorCode(reply) == -32006)
            #expect(object(object(reply?["error"])?["data"])?["name"] as? String == "TooLarge")
            #expect(socket.isClosedByPeer())
        }
    }

    @Test func aRequestWrittenByteByByteIsAnswered() async throws {
        try await withDaemon { stack in
            let socket = try RawSocket(path: stack.socketPath("audit"))
            for byte in Array((#"{"jsonrpc":"2.0","method":"service.ping","id":"slow"}"# + "\n").utf8) {
                try socket.send([byte])
            }
            #expect(object(try socket.readJSON())?["id"] as? String == "slow")
        }
    }

    @Test func hundredPipelinedCallsAreAllAnswered() async throws {
        try await withDaemon { stack in
            let socket = try RawSocket(path: stack.socketPath("audit"))
            var lines = ""
            for id in 0..<100 { lines += #"{"jsonrpc":"2.0","method":"service.ping","id":\#(id)}"# + "\n" }
            try socket.send(lines)
            var seen = Set<Int>()
            for _ in 0..<100 {
                if let id = object(try socket.readJSON())?["id"] as? Int { seen.insert(id) }
            }
            #expect(seen == Set(0..<100))
        }
    }

    @Test func aClientThatVanishesMidRequestDoesNotHurtOthers() async throws {
        try await withDaemon { stack in
            for _ in 0..<20 {
                let socket = try RawSocket(path: stack.socketPath("audit"))
                try socket.send(#"{"jsonrpc":"2.0","method":"service.info","id":1"#)  // no end of line
                socket.shutdownWrite()
            }
            for _ in 0..<20 {
                let socket = try RawSocket(path: stack.socketPath("audit"))
                try socket.send(#"{"jsonrpc":"2.0","method":"service.info","id":1}"# + "\n")
                socket.shutdownWrite()  // closes before the reply is read
            }
        }
    }

    @Test func connectionsPerUIDAreLimited() async throws {
        try await withDaemon { stack in
            var open: [RawSocket] = []
            for _ in 0..<6 {
                let socket = try RawSocket(path: stack.socketPath("audit"))
                try socket.send(#"{"jsonrpc":"2.0","method":"service.ping","id":1}"# + "\n")
                _ = try socket.readJSON()
                open.append(socket)
            }
            let refused = try RawSocket(path: stack.socketPath("audit"))
            let reply = object(try refused.readJSON())
            #expect(object(object(reply?["error"])?["data"])?["name"] as? String == "TooManyConnections")
            #expect(refused.isClosedByPeer())
            open.removeAll()  // frees the slots for the check after the test
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        try await withDaemon { stack in
            let socket = try RawSocket(path: stack.socketPath("audit"))
            try socket.send(#"{"jsonrpc":"2.0","method":"service.ping","id":1}"# + "\n")
            _ = try socket.readJSON()
            let started = Date()
            #expect(socket.isClosedByPeer())
            #expect(Date().timeIntervalSince(started) >= 1.5)
        }
    }

    @Test func theTypedClientReconnectsAfterTheDaemonRestarts() async throws {
        let stack = try TestStack()
        try stack.start("router")
        let client = RPCClient(socketPath: stack.socketPath("router"))
        #expect(try await client.call(Ping.self, NoParams()).pong)
        try stack.crashAndRestart("router")
        var answered = false
        for _ in 0..<3 where !answered {
            answered = (try? await client.call(Ping.self, NoParams()).pong) == true
        }
        #expect(answered)
        await client.close()
        try stack.stop("router")
        stack.removeFiles()
    }

    @Test func theClientReportsAnUnreachableDaemonAsUnavailable() async throws {
        let client = RPCClient(socketPath: "/tmp/leadline-nobody-\(getpid()).sock", connectTimeout: .seconds(1))
        await #expect {
            _ = try await client.call(Ping.self, NoParams())
        } throws: { ($0 as? RPCError)?.name == "Unavailable" }
    }
}

/// service.ping's shapes, for the typed client.
enum Ping: RPCMethod {
    static let name = "service.ping"
    typealias Params = NoParams
    struct Result: Codable, Sendable {
        var pong: Bool
        var time: String
    }
}
