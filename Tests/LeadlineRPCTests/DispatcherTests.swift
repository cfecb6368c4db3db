import Foundation
import LeadlineRPC
import NIOCore
import Testing

enum Echo: RPCMethod {
    static let name = "test.echo"
    struct Params: Codable, Sendable {
        var text: String
        var times: Int?
    }
    struct Result: Codable, Sendable {
        var text: String
    }
}

/// Typed dispatch, authorization, error mapping, UTF-8, timeouts: every path of the dispatcher.
@Suite struct DispatcherTests {
    static func makeDispatcher(timeout: TimeAmount = .seconds(5)) -> RPCDispatcher {
        var table = RPCMethodTable()
        table.register(Echo.self, .anyone) { params, _ in
            Echo.Result(text: String(repeating: params.text, count: params.times ?? 1))
        }
        table.registerRaw("test.adminOnly", .admin) { _, _ in "secret-free answer" }
        table.registerRaw("test.vaultOnly", .services(["vault"])) { _, _ in true }
        table.registerRaw("test.slow", .anyone) { _, _ in
            try await Task.sleep(for: .seconds(30))
            return .null
        }
        table.registerRaw("test.throwsUnexpected", .anyone) { _, _ in
            struct LeakyError: Error { let token = "sk-should-never-appear" }
            throw LeakyError()
        }
        table.registerRaw("test.notFound", .anyone) { _, _ in throw RPCError.notFound("no lead with that id") }
        return RPCDispatcher(table: table, callTimeout: timeout)
    }

    let dispatcher = makeDispatcher()

    func call(_ line: String, caller: Caller = .testAdmin, on dispatcher: RPCDispatcher? = nil) async throws
        -> JSONValue?
    {
        guard let data = await (dispatcher ?? self.dispatcher).handle(line: Array(line.utf8), caller: caller) else {
            return nil
        }
        return try JSONCoding.parse(data)
    }

    @Test func typedMethodDecodesParamsAndEncodesResult() async throws {
        let reply = try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"ab","times":2},"id":7}"#)
        #expect(reply == ["jsonrpc": "2.0", "result": ["text": "abab"], "id": 7])
    }

    @Test func missingParamIsNamed() async throws {
        let reply = try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{},"id":1}"#)
        #expect(reply?["error"]?["code"] == -32602)
        #expect(reply?["error"]?["data"]?["name"] == "InvalidParams")
        #expect(reply?["error"]?["data"]?["detail"]?.stringValue?.contains("'text'") == true)
    }

    @Test func wrongTypeIsNamed() async throws {
        let reply = try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":5},"id":1}"#)
        #expect(reply?["error"]?["code"] == -32602)
        #expect(reply?["error"]?["data"]?["detail"]?.stringValue?.contains("'text'") == true)
        #expect(reply?["error"]?["data"]?["detail"]?.stringValue?.contains("string") == true)
    }

    @Test func positionalParamsToTypedMethodAreInvalid() async throws {
        let reply = try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":["x"],"id":1}"#)
        #expect(reply?["error"]?["code"] == -32602)
    }

    @Test func adminOnlyMethodRefusesOthers() async throws {
        let refused = try await call(#"{"jsonrpc":"2.0","method":"test.adminOnly","id":1}"#, caller: .stranger)
        #expect(refused?["error"]?["code"] == -32002)
        #expect(refused?["error"]?["data"]?["name"] == "PermissionDenied")
        let allowed = try await call(#"{"jsonrpc":"2.0","method":"test.adminOnly","id":1}"#)
        #expect(allowed?["result"] == "secret-free answer")
    }

    @Test func serviceOnlyMethodChecksServiceRole() async throws {
        var routerOnly = Caller.stranger
        routerOnly.services = ["router"]
        let refused = try await call(#"{"jsonrpc":"2.0","method":"test.vaultOnly","id":1}"#, caller: routerOnly)
        #expect(refused?["error"]?["data"]?["name"] == "PermissionDenied")
        var vault = Caller.stranger
        vault.services = ["vault"]
        #expect(
            try await call(#"{"jsonrpc":"2.0","method":"test.vaultOnly","id":1}"#, caller: vault)?["result"] == true)
    }

    @Test func unexpectedErrorsBecomeInternalErrorWithoutDetailLeak() async throws {
        let reply = try await call(#"{"jsonrpc":"2.0","method":"test.throwsUnexpected","id":1}"#)
        #expect(reply?["error"]?["code"] == -32603)
        let text = String(decoding: try JSONCoding.encode(reply), as: UTF8.self)
        #expect(!text.contains("sk-should-never-appear"))
    }

    @Test func domainErrorsKeepTheirNameAndCode() async throws {
        let reply = try await call(#"{"jsonrpc":"2.0","method":"test.notFound","id":"x"}"#)
        #expect(reply?["error"]?["code"] == -32001)
        #expect(reply?["error"]?["data"]?["name"] == "NotFound")
        #expect(reply?["id"] == "x")
    }

    @Test func stringIdsComeBackExactlyAsSent() async throws {
        for id in [#"a\"b"#, #"back\\slash"#, #"line\nbreak\ttab"#, #"\u0001\u001f"#, "é漢🙂", ""] {
            let reply = try await call(
                #"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"x","times":1},"id":"\#(id)"}"#)
            let sent = try JSONCoding.parse(Array(#""\#(id)""#.utf8))
            #expect(reply?["id"] == sent)
            #expect(reply?["result"] == ["text": "x"])
        }
        let big = try await call(
            #"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"x","times":1},"id":-9223372036854775808}"#)
        #expect(big?["id"] == .int(Int64.min))
    }

    @Test func invalidUTF8IsAParseError() async throws {
        var bytes = Array(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"#.utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(#""},"id":1}"#.utf8)
        let data = try #require(await dispatcher.handle(line: bytes, caller: .testAdmin))
        let reply = try JSONCoding.parse(data)
        #expect(reply["error"]?["code"] == -32700)
        #expect(reply["error"]?["data"]?["detail"]?.stringValue?.contains("UTF-8") == true)
    }

    @Test func callTimeoutAnswersWithTimeoutError() async throws {
        let quick = Self.makeDispatcher(timeout: .milliseconds(100))
        let started = ContinuousClock.now
        let reply = try await call(#"{"jsonrpc":"2.0","method":"test.slow","id":1}"#, on: quick)
        #expect(reply?["error"]?["data"]?["name"] == "Timeout")
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func wrongVersionAndBadIDsAreInvalidRequests() async throws {
        #expect(try await call(#"{"jsonrpc":"1.0","method":"test.echo","id":1}"#)?["error"]?["code"] == -32600)
        #expect(try await call(#"{"method":"test.echo","id":1}"#)?["error"]?["code"] == -32600)
        #expect(try await call(#"{"jsonrpc":"2.0","method":"test.echo","id":{"a":1}}"#)?["error"]?["code"] == -32600)
        #expect(
            try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":"text","id":1}"#)?["error"]?["code"]
                == -32600)
        #expect(try await call(#""just a string""#)?["error"]?["code"] == -32600)
    }

    @Test func nullIDIsAnsweredWithNullID() async throws {
        let reply = try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"a"},"id":null}"#)
        #expect(reply?["id"] == .null)
        #expect(reply?["result"] == ["text": "a"])
    }

    @Test func metricsCountCallsAndErrors() async throws {
        let fresh = Self.makeDispatcher()
        _ = try await call(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"a"},"id":1}"#, on: fresh)
        _ = try await call(#"{"jsonrpc":"2.0","method":"test.notFound","id":1}"#, on: fresh)
        let text = fresh.metrics.render(service: "test")
        #expect(text.contains(#"leadline_rpc_calls_total{service="test",method="test.echo"} 1"#))
        #expect(text.contains(#"leadline_rpc_errors_total{service="test",error="NotFound"} 1"#))
    }
}
