import AuditCore
import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// Retention prunes old events behind a signed anchor; what remains still verifies. The clock
/// is moved with LEADLINE_TEST_NOW instead of waiting.
@Suite struct AuditRetentionTests {
    @Test func oldEventsArePrunedBehindAnAnchorAndTheRestStillVerifies() async throws {
        let audit = try AuditFixture(
            extraConfig: "[retention]\naudit_days = 30\n[audit]\ncheckpoint_every_events = 4\n")
        try await audit.appendEvents(10, batch: 3, prefix: "old", time: timestamp(daysFromNow: -40))
        try await audit.appendEvents(5, batch: 5, prefix: "new")
        // Old by time but after recent events in the chain: kept, since only a prefix can go.
        try await audit.appendEvents(1, prefix: "late", time: timestamp(daysFromNow: -50))
        #expect(try await audit.client.call("audit.verify") == ["ok": true, "events": 16, "checkpoints": 3])

        // Retention runs when the daemon starts (and hourly).
        try audit.stack.stop("audit")
        try audit.stack.start("audit")
        let client = audit.stack.client("audit")
        try await eventually(timeout: 15) {
            try await client.call("audit.query")["items"]?.arrayValue?.first?["seq"] == 11
        }
        let remaining = try await client.call("audit.query")["items"]?.arrayValue ?? []
        #expect(remaining.map { $0["seq"] } == Array(11...17).map { JSONValue.int(Int64($0)) })
        #expect(remaining.first?["prevHash"] != .string(CanonicalEncoding.zeroHash))
        let pruned = try #require(remaining.last)
        #expect(pruned["action"] == "audit.retentionPruned")
        #expect(pruned["actor"] == "audit")
        #expect(pruned["details"]?["throughSeq"] == 10)
        #expect(pruned["details"]?["removed"] == 10)
        let verified = try await client.call("audit.verify")
        #expect(verified["ok"] == true)
        #expect(verified["events"] == 7)
        // A cursor into the pruned range has expired.
        #expect(await client.expectError("audit.query", params: ["cursor": "seq:3"])?.name == "Expired")

        // Move the clock 60 days on: everything left is now past retention.
        try audit.stack.stop("audit")
        try audit.stack.start("audit", extraEnvironment: ["LEADLINE_TEST_NOW": timestamp(daysFromNow: 60)])
        let later = audit.stack.client("audit")
        try await eventually(timeout: 15) {
            try await later.call("audit.query")["items"]?.arrayValue?.first?["seq"] == 18
        }
        let afterAll = try await later.call("audit.verify")
        #expect(afterAll["ok"] == true)
        #expect(afterAll["events"] == 1)
        try await AuditFixture.append(3, to: later)
        let final = try await later.call("audit.verify")
        #expect(final["ok"] == true)
        #expect(final["events"] == 4)

        // Tampering with the anchor is detected like any other row.
        try audit.stack.stop("audit")
        try sqlite3(audit.databasePath, "UPDATE anchor SET hash = '\(String(repeating: "1", count: 64))';")
        try audit.stack.start("audit")
        let tampered = try await audit.stack.client("audit").call("audit.verify")
        #expect(tampered["ok"] == false)
        #expect(tampered["firstBadSeq"] == 18)
        audit.stack.removeFiles()
    }
}

extension AuditFixture {
    static func append(_ count: Int, to client: RecordingClient) async throws {
        let events: [JSONValue] = (0..<count).map {
            ["action": "ingest.leadStored", "subject": .string("after-\($0)"), "outcome": "ok"]
        }
        _ = try await client.call("audit.append", params: ["events": .array(events)])
    }
}
