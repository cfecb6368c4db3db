import Foundation
import LeadlineRPC
import Testing

/// The JSON-RPC 2.0 specification's own examples (section 7), run through the dispatcher.
@Suite struct SpecificationExamplesTests {
    let dispatcher = RPCDispatcher(table: ExampleMethods.table)

    @Test func positionalParameters() async throws {
        #expect(
            try await call(#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#) == [
                "jsonrpc": "2.0", "result": 19, "id": 1,
            ])
        #expect(
            try await call(#"{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}"#) == [
                "jsonrpc": "2.0", "result": -19, "id": 2,
            ])
    }

    @Test func namedParameters() async throws {
        #expect(
            try await call(
                #"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#) == [
                    "jsonrpc": "2.0", "result": 19, "id": 3,
                ])
        #expect(
            try await call(
                #"{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}"#) == [
                    "jsonrpc": "2.0", "result": 19, "id": 4,
                ])
    }

    @Test func notificationsGetNoReply() async throws {
        #expect(try await call(#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#) == nil)
        #expect(try await call(#"{"jsonrpc": "2.0", "method": "foobar"}"#) == nil)
    }

    @Test func nonExistentMethod() async throws {
        let reply = try await call(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#)
        #expect(reply?["error"]?["code"] == -32601)
        #expect(reply?["id"] == "1")
    }

    @Test func invalidJSON() async throws {
        let reply = try await call(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#)
        #expect(reply?["error"]?["code"] == -32700)
        #expect(reply?["id"] == .null)
    }

    @Test func invalidRequestObject() async throws {
        let reply = try await call(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#)
        #expect(reply?["error"]?["code"] == -32600)
        #expect(reply?["id"] == .null)
    }

    @Test func batchWithInvalidJSON() async throws {
        let reply = try await call(
            #"[ {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method" ]"#)
        #expect(reply?["error"]?["code"] == -32700)
    }

    @Test func emptyArray() async throws {
        let reply = try await call("[]")
        #expect(reply?["error"]?["code"] == -32600)
        #expect(reply?.arrayValue == nil)
    }

    @Test func invalidNonEmptyBatches() async throws {
        let one = try await call("[1]")
        #expect(one?.arrayValue?.count == 1)
        #expect(one?.arrayValue?.first?["error"]?["code"] == -32600)
        let three = try await call("[1,2,3]")
        #expect(three?.arrayValue?.count == 3)
        #expect(three?.arrayValue?.allSatisfy { $0["error"]?["code"] == -32600 && $0["id"] == .null } == true)
    }

    @Test func mixedBatch() async throws {
        let reply = try await call(
            """
            [
                {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
                {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
                {"foo": "boo"},
                {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
                {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
            ]
            """)
        let replies = try #require(reply?.arrayValue)
        #expect(replies.count == 5)
        func answer(_ id: JSONValue) -> JSONValue? { replies.first { $0["id"] == id } }
        #expect(answer("1")?["result"] == 7)
        #expect(answer("2")?["result"] == 19)
        #expect(answer("5")?["error"]?["code"] == -32601)
        #expect(answer("9")?["result"] == ["hello", 5])
        #expect(replies.contains { $0["id"] == .null && $0["error"]?["code"] == -32600 })
    }

    @Test func batchOfNotificationsGetsNoReply() async throws {
        let reply = try await call(
            """
            [
                {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
            ]
            """)
        #expect(reply == nil)
    }

    private func call(_ line: String) async throws -> JSONValue? {
        guard let data = await dispatcher.handle(line: Array(line.utf8), caller: .testAdmin) else { return nil }
        return try JSONCoding.parse(data)
    }
}

/// The methods the specification's examples call.
enum ExampleMethods {
    static var table: RPCMethodTable {
        var table = RPCMethodTable()
        table.registerRaw("subtract", .anyone) { params, _ in
            switch params {
            case .array(let values)?:
                guard values.count == 2, let a = values[0].intValue, let b = values[1].intValue else {
                    throw RPCError.invalidParams("subtract takes two integers")
                }
                return .int(a - b)
            case .object(let named)?:
                guard let a = named["minuend"]?.intValue, let b = named["subtrahend"]?.intValue else {
                    throw RPCError.invalidParams("missing required param 'minuend' or 'subtrahend'")
                }
                return .int(a - b)
            default:
                throw RPCError.invalidParams("subtract takes params")
            }
        }
        table.registerRaw("sum", .anyone) { params, _ in
            .int(params?.arrayValue?.compactMap(\.intValue).reduce(0, +) ?? 0)
        }
        table.registerRaw("update", .anyone) { _, _ in .null }
        table.registerRaw("notify_hello", .anyone) { _, _ in .null }
        table.registerRaw("notify_sum", .anyone) { _, _ in .null }
        table.registerRaw("get_data", .anyone) { _, _ in ["hello", 5] }
        return table
    }
}

extension Caller {
    static let testAdmin = Caller(
        credentials: PeerCredentials(uid: 0, gid: 0, pid: 1), userName: "root", isAdmin: true, isSubmitter: true,
        services: ["vault", "ingest", "router", "audit"])
    static let stranger = Caller(
        credentials: PeerCredentials(uid: 4242, gid: 4242, pid: 2), userName: "stranger", isAdmin: false,
        isSubmitter: false,
        services: [])
}
