import AuditCore
import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// audit.append, audit.query, audit.export and audit.checkpoint through the real socket.
@Suite struct AuditAppendTests {
    @Test func appendChainsEventsAndTakesTheActorFromTheConnection() async throws {
        let audit = try AuditFixture()
        let first = try await audit.client.call(
            "audit.append",
            params: [
                "events": [
                    [
                        "time": "2026-11-30T10:00:00Z", "action": "vault.getSecret", "subject": "meta/app-secret",
                        "outcome": "ok",
                    ],
                    [
                        "action": "privacy.erase", "subject": "lead-1", "outcome": "ok",
                        "details": ["emailHash": "ab12"],
                    ],
                ]
            ])
        #expect(first == ["appended": 2, "firstSeq": 1, "lastSeq": 2])
        let second = try await audit.client.call(
            "audit.append", params: ["events": [["action": "router.putRoute", "subject": "r1", "outcome": "denied"]]])
        #expect(second == ["appended": 1, "firstSeq": 3, "lastSeq": 3])

        let items = try await audit.query()
        #expect(items.map { $0["seq"] } == [1, 2, 3])
        // Every daemon in the test stack runs as this uid, so it holds several roles: uid:<n>(<user>).
        let actor = JSONValue.string("uid:\(getuid())(\(audit.stack.userName))")
        #expect(items.allSatisfy { $0["actor"] == actor })
        #expect(items[0]["time"] == "2026-11-30T10:00:00.000Z")
        #expect(items[0]["prevHash"] == .string(String(repeating: "0", count: 64)))
        #expect(items[1]["prevHash"] == items[0]["hash"])
        #expect(items[2]["prevHash"] == items[1]["hash"])
        #expect(items[0]["details"] == [:])
        #expect(items[1]["details"] == ["emailHash": "ab12"])
        #expect(try await audit.client.call("audit.verify") == ["ok": true, "events": 3, "checkpoints": 0])
        audit.stack.removeFiles()
    }

    /// A spool whose append was applied but not acknowledged (audit or the spooling daemon
    /// killed in between) sends the batch again: found by the crash test as events recorded twice.
    @Test func aResentSpoolBatchIsAppendedOnce() async throws {
        let audit = try AuditFixture()
        func spooled(_ seqs: ClosedRange<Int64>, spool: String = "spool-a") -> JSONValue {
            .array(
                seqs.map {
                    [
                        "action": "router.enqueueLead", "subject": .string("lead-\($0)"), "outcome": "accepted",
                        "spoolId": .string(spool), "spoolSeq": .int($0),
                    ]
                })
        }
        #expect(try await audit.client.call("audit.append", params: ["events": spooled(1...3)])["appended"] == 3)
        let resent = try await audit.client.call("audit.append", params: ["events": spooled(1...3)])
        #expect(resent == ["appended": 0, "skipped": 3, "firstSeq": 4, "lastSeq": 3])
        // A resend that overlaps new events appends only the new ones; other spools are apart.
        let overlapping = try await audit.client.call("audit.append", params: ["events": spooled(2...5)])
        #expect(overlapping == ["appended": 2, "skipped": 2, "firstSeq": 4, "lastSeq": 5])
        let other = try await audit.client.call("audit.append", params: ["events": spooled(1...1, spool: "spool-b")])
        #expect(other == ["appended": 1, "firstSeq": 6, "lastSeq": 6])
        let half = await audit.client.expectError(
            "audit.append", params: ["events": [["action": "a.b", "subject": "", "outcome": "ok", "spoolSeq": 9]]])
        #expect(half?.code == -32602)

        #expect(
            try await audit.query().compactMap { $0["subject"]?.stringValue } == (1...5).map { "lead-\($0)" } + [
                "lead-1"
            ])
        #expect(try await audit.client.call("audit.verify") == ["ok": true, "events": 6, "checkpoints": 0])
        audit.stack.removeFiles()
    }

    @Test func rejectedBatchesAppendNothing() async throws {
        let audit = try AuditFixture()
        try await audit.appendEvents(2)
        let forgedActor = await audit.client.expectError(
            "audit.append", params: ["events": [["action": "a.b", "subject": "", "outcome": "ok", "actor": "vault"]]])
        #expect(forgedActor?.code == -32602)
        let rawEmail = await audit.client.expectError(
            "audit.append",
            params: [
                "events": [
                    ["action": "a.b", "subject": "x", "outcome": "ok"],
                    [
                        "action": "ingest.leadStored", "subject": "x", "outcome": "ok",
                        "details": ["lead": ["Email": "a@b.c"]],
                    ],
                ]
            ])
        #expect(rawEmail?.code == -32009)
        #expect(rawEmail?.name == "ValidationFailed")
        #expect(rawEmail.map { !$0.detail.contains("a@b.c") } == true)
        let phone = await audit.client.expectError(
            "audit.append",
            params: ["events": [["action": "a.b", "subject": "x", "outcome": "ok", "details": ["phone": "+1555"]]]])
        #expect(phone?.name == "ValidationFailed")
        let empty = await audit.client.expectError("audit.append", params: ["events": []])
        #expect(empty?.code == -32602)
        let badOutcome = await audit.client.expectError(
            "audit.append", params: ["events": [["action": "a.b", "subject": "x", "outcome": "OK!"]]])
        #expect(badOutcome?.code == -32602)
        #expect(try await audit.query().count == 2)
        #expect(try await audit.client.call("audit.verify")["ok"] == true)
        audit.stack.removeFiles()
    }

    @Test func queryFiltersAndPagesWithACursor() async throws {
        let audit = try AuditFixture()
        try await audit.appendEvents(30, batch: 7)
        _ = try await audit.client.call(
            "audit.append",
            params: [
                "events": [
                    ["time": "2020-01-01T00:00:00Z", "action": "vault.putSecret", "subject": "s1", "outcome": "ok"],
                    [
                        "time": "2020-01-02T00:00:00+02:00", "action": "vault.getSecret", "subject": "s1",
                        "outcome": "denied",
                    ],
                ]
            ])
        // Paging visits every event once, in seq order.
        var seqs: [Int64] = []
        var cursor: JSONValue? = nil
        repeat {
            var params: [String: JSONValue] = ["limit": 8]
            if let cursor { params["cursor"] = cursor }
            let page = try await audit.client.call("audit.query", params: .object(params))
            seqs += page["items"]?.arrayValue?.compactMap { $0["seq"]?.intValue } ?? []
            cursor = page["nextCursor"]
        } while cursor != nil
        #expect(seqs == Array(1...32))

        #expect(try await audit.query(["action": "vault.*"]).map { $0["seq"] } == [31, 32])
        #expect(try await audit.query(["action": "delivery.sent"]).count == 10)
        #expect(try await audit.query(["subject": "lead-7"]).map { $0["seq"] } == [8])
        #expect(
            try await audit.query(["subject": "s1", "action": "vault.getSecret"]).map { $0["outcome"] } == ["denied"])
        #expect(try await audit.query(["until": "2020-01-01T12:00:00Z"]).map { $0["seq"] } == [31])
        #expect(
            try await audit.query(["since": "2020-01-01T12:00:00Z", "until": "2021-01-01T00:00:00Z"]).map { $0["seq"] }
                == [32])
        let actor = JSONValue.string("uid:\(getuid())(\(audit.stack.userName))")
        #expect(try await audit.query(["actor": actor, "limit": 1000]).count == 32)
        #expect(try await audit.query(["actor": "router"]).isEmpty)
        #expect(await audit.client.expectError("audit.query", params: ["cursor": "bogus"])?.code == -32602)

        // Export pages JSON Lines of the same items.
        var lines: [String] = []
        var exportCursor: JSONValue? = nil
        repeat {
            var params: [String: JSONValue] = ["limit": 10]
            if let exportCursor { params["cursor"] = exportCursor }
            let page = try await audit.client.call("audit.export", params: .object(params))
            #expect(page["format"] == "jsonl")
            let text = page["data"]?.stringValue ?? ""
            #expect(text.isEmpty || text.hasSuffix("\n"))
            let pageLines = text.split(separator: "\n").map(String.init)
            #expect(page["lines"]?.intValue == Int64(pageLines.count))
            lines += pageLines
            exportCursor = page["nextCursor"]
        } while exportCursor != nil
        #expect(lines.count == 32)
        let exported = try lines.map { try JSONCoding.parse(Array($0.utf8)) }
        #expect(exported == (try await audit.query(["limit": 1000])))
        audit.stack.removeFiles()
    }

    @Test func checkpointsAreSignedEveryNEventsAndOnRequest() async throws {
        let audit = try AuditFixture(extraConfig: "[audit]\ncheckpoint_every_events = 5\n")
        #expect(await audit.client.expectError("audit.checkpoint")?.name == "NotFound")
        try await audit.appendEvents(12, batch: 1)
        #expect(try await audit.client.call("audit.verify")["checkpoints"] == 2)
        let latest = try await audit.client.call("audit.checkpoint")
        #expect(latest["seq"] == 12)
        #expect(latest["hash"] == (try await audit.query(["limit": 1000])).last?["hash"])
        let verifier = try AuditSignatureVerifier(publicKeyHex: try #require(latest["publicKey"]?.stringValue))
        #expect(
            verifier.isValidCheckpoint(
                seq: 12, time: try #require(latest["time"]?.stringValue),
                hash: try #require(latest["hash"]?.stringValue),
                signature: try #require(latest["signature"]?.stringValue)))
        #expect(
            !verifier.isValidCheckpoint(
                seq: 11, time: try #require(latest["time"]?.stringValue),
                hash: try #require(latest["hash"]?.stringValue),
                signature: try #require(latest["signature"]?.stringValue)))
        // The public key is the signing credential's.
        let raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(audit.stack.credentialsDir)/audit-signing-key")))
        #expect(try AuditSigner(rawPrivateKey: raw).publicKeyHex == latest["publicKey"]?.stringValue)
        // Nothing new: the same checkpoint again.
        #expect(try await audit.client.call("audit.checkpoint") == latest)
        #expect(try await audit.client.call("audit.verify") == ["ok": true, "events": 12, "checkpoints": 3])
        audit.stack.removeFiles()
    }

    @Test func aMissingSigningKeyRefusesToStart() async throws {
        let stack = try TestStack()
        try FileManager.default.removeItem(atPath: "\(stack.credentialsDir)/audit-signing-key")
        let process = try stack.start("audit")
        let socket = try RawSocket(path: stack.socketPath("audit"))
        try? socket.send("{\"jsonrpc\":\"2.0\",\"method\":\"service.ping\",\"id\":1}\n")
        #expect(socket.isClosedByPeer())
        try process.waitForExit(timeout: 15)
        #expect(process.exitCode == 78)
        #expect(stack.log("audit").contains("credential 'audit-signing-key' is missing"))
        stack.removeFiles()
    }
}
