import Foundation
import LeadlineHTTP
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// The libcurl client against a real HTTP server on loopback.
@Suite struct HTTPClientTests {
    @Test func sendsMethodHeadersAndBodyAndExposesTheAnswer() async throws {
        let server = try await HTTPTestServer { request in
            .json(201, #"{"ok":true}"#, headers: [("X-RateLimit-Remaining", "99")])
        }
        defer { Task { await server.shutdown() } }
        let client = HTTPClient()
        let target = HTTPTarget(baseURL: server.baseURL + "/")
        let response = try await client.send(
            HTTPRequest(
                method: "POST", url: target.url("/crm/v3/objects", query: [("idProperty", "email")]),
                headers: [("Authorization", "Bearer t0ken"), ("Content-Type", "application/json")],
                body: Data(#"{"a":1}"#.utf8)))
        #expect(response.status == 201)
        #expect(response.header("x-ratelimit-remaining") == "99")
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"ok":true}"#)
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.path == "/crm/v3/objects")
        #expect(seen.query["idProperty"] == "email")
        #expect(seen.header("authorization") == "Bearer t0ken")
        #expect(String(decoding: seen.body, as: UTF8.self) == #"{"a":1}"#)
    }

    @Test func queryValuesArePercentEncodedByteByByte() {
        let target = HTTPTarget(baseURL: "http://127.0.0.1:1/")
        #expect(
            target.url("/v1/leads", query: [("filtering", #"[{"field":"time_created"}]"#), ("q", "é ~a-b_c.d")])
                == "http://127.0.0.1:1/v1/leads?filtering=%5B%7B%22field%22%3A%22time_created%22%7D%5D&q=%C3%A9%20~a-b_c.d"
        )
        #expect(HTTPTarget.escape("AZaz09-._~") == "AZaz09-._~")
        #expect(HTTPTarget.escape("a+b&c=d/e?") == "a%2Bb%26c%3Dd%2Fe%3F")
    }

    @Test func aSlowServerTimesOut() async throws {
        let server = try await HTTPTestServer { _ in CannedResponse(status: 200, delay: .seconds(3)) }
        defer { Task { await server.shutdown() } }
        let client = HTTPClient()
        await #expect {
            _ = try await client.send(HTTPRequest(url: server.baseURL + "/slow", timeout: .milliseconds(300)))
        } throws: { error in
            guard case HTTPClientError.timedOut = error else { return false }
            return (error as? HTTPClientError)?.isTransient == true
        }
    }

    @Test func aResponseOverTheLimitIsRefused() async throws {
        let server = try await HTTPTestServer { _ in CannedResponse(status: 200, body: Data(count: 64 * 1024)) }
        defer { Task { await server.shutdown() } }
        var configuration = HTTPClient.Configuration()
        configuration.maxResponseBytes = 1024
        let client = HTTPClient(configuration: configuration)
        await #expect {
            _ = try await client.send(HTTPRequest(url: server.baseURL + "/big"))
        } throws: { error in
            if case HTTPClientError.responseTooLarge(let limit) = error { return limit == 1024 }
            return false
        }
    }

    @Test func aResetConnectionIsATransientError() async throws {
        let server = try await HTTPTestServer { _ in .reset }
        defer { Task { await server.shutdown() } }
        await #expect {
            _ = try await HTTPClient().send(HTTPRequest(url: server.baseURL + "/reset"))
        } throws: { ($0 as? HTTPClientError)?.isTransient == true }
    }

    @Test func aTruncatedBodyIsATransientError() async throws {
        let server = try await HTTPTestServer { _ in
            CannedResponse(status: 200, body: Data("{\"partial\":".utf8), truncateBody: true)
        }
        defer { Task { await server.shutdown() } }
        await #expect {
            _ = try await HTTPClient().send(HTTPRequest(url: server.baseURL + "/truncated"))
        } throws: { ($0 as? HTTPClientError)?.isTransient == true }
    }

    @Test func nobodyListeningIsAConnectionFailure() async throws {
        let port = try TestPorts.unused()
        await #expect {
            _ = try await HTTPClient().send(HTTPRequest(url: "http://127.0.0.1:\(port)/"))
        } throws: { error in
            if case HTTPClientError.connectionFailed = error { return true }
            return false
        }
    }

    @Test func onlyHTTPAndHTTPSAreAllowed() async throws {
        await #expect(throws: HTTPClientError.self) {
            _ = try await HTTPClient().send(HTTPRequest(url: "file:///etc/passwd"))
        }
    }

    @Test func manyConcurrentRequestsAllComplete() async throws {
        let server = try await HTTPTestServer { request in .json(200, #"{"path":"\#(request.path)"}"#) }
        defer { Task { await server.shutdown() } }
        let client = HTTPClient()
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<50 {
                group.addTask { try await client.send(HTTPRequest(url: server.baseURL + "/r/\(index)")).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.count == 50)
        #expect(statuses.allSatisfy { $0 == 200 })
    }

    /// All of a client's transfers share one thread, started by the first and ended with the client:
    /// clients made and dropped one after another (as leadctl does) leave no thread behind.
    @Test func aClientsTransfersShareOneThreadThatEndsWithIt() async throws {
        let server = try await HTTPTestServer { _ in .json(200, "{}") }
        defer { Task { await server.shutdown() } }
        func transferThreads() -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return tasks.count { task in
                (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?.hasPrefix(
                    "leadline-http") == true
            }
        }
        let before = transferThreads()
        do {
            let client = HTTPClient()
            _ = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try await client.send(HTTPRequest(url: server.baseURL)).status } }
                return try await group.reduce(0, +)
            }
            #expect(transferThreads() >= 1)
        }
        for _ in 0..<10 {
            #expect(try await HTTPClient().send(HTTPRequest(url: server.baseURL)).status == 200)
        }
        try waitFor(timeout: 5) { transferThreads() <= before }
        #expect(transferThreads() <= before)
    }
}

enum TestPorts {
    static func unused() throws -> Int {
        // A port just released by a bound socket is free with high probability for the next second.
        try TestStack.freePort()
    }
}
