import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// The shared spooling client: a daemon's events wait in its own database while the audit
/// daemon is down and arrive later in their original order and with their original time.
@Suite struct AuditSpoolTests {
    @Test func vaultEventsSpooledWhileAuditIsDownArriveInOrderWithTheirTime() async throws {
        let stack = try TestStack()
        try stack.start("vault")
        let vault = stack.client("vault")
        _ = try await vault.call(
            "vault.putSecret", params: ["name": "s/1", "value": "spool-test-value", "readers": ["ingest"]])
        _ = try await vault.call("vault.getSecret", params: ["name": "s/1"])
        _ = await vault.expectError("vault.getSecret", params: ["name": "no/such"])
        _ = try await vault.call(
            "vault.updateSecret", params: ["name": "s/1", "value": "spool-test-2", "expectedVersion": 1])
        _ = await vault.expectError(
            "vault.updateSecret", params: ["name": "s/1", "value": "spool-test-3", "expectedVersion": 1])
        // The vault restarts while the audit daemon is still away: the spool is on disk.
        try stack.stop("vault")
        try stack.start("vault")
        _ = try await stack.client("vault").call("vault.deleteSecret", params: ["name": "s/1"])
        #expect(try await stack.client("vault").call("service.info")["queues"]?["auditSpool"] == 6)

        let auditStarted = timestampNow()
        try stack.start("audit")
        let audit = stack.client("audit")
        try await eventually(timeout: 25) {
            try await audit.call("audit.query", params: ["action": "vault.*"])["items"]?.arrayValue?.count == 6
        }
        let items = try await audit.call("audit.query", params: ["action": "vault.*"])["items"]?.arrayValue ?? []
        let expected: [(String, String)] = [
            ("vault.putSecret", "ok"), ("vault.getSecret", "ok"), ("vault.getSecret", "not-found"),
            ("vault.updateSecret", "ok"), ("vault.updateSecret", "conflict"), ("vault.deleteSecret", "ok"),
        ]
        #expect(items.map { $0["action"]?.stringValue ?? "" } == expected.map(\.0))
        #expect(items.map { $0["outcome"]?.stringValue ?? "" } == expected.map(\.1))
        #expect(items.map { $0["seq"] } == [1, 2, 3, 4, 5, 6])
        let times = items.compactMap { $0["time"]?.stringValue }
        #expect(times == times.sorted())
        #expect(times.allSatisfy { $0 < auditStarted })
        let text = String(decoding: try JSONCoding.encode(JSONValue.array(items)), as: UTF8.self)
        #expect(!text.contains("spool-test"))
        #expect(try await audit.call("audit.verify")["ok"] == true)
        try await eventually(timeout: 10) {
            try await stack.client("vault").call("service.info")["queues"]?["auditSpool"] == 0
        }
        stack.removeFiles()
    }

    private func timestampNow() -> String {
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        style.timeZone = .gmt
        return Date().formatted(style)
    }
    /// An event the audit daemon refuses as invalid is set aside in the daemon's own database;
    /// the events after it still arrive, and leadctl status says what happened.
    @Test func aRefusedEventIsSetAsideAndTheRestStillArrive() async throws {
        let stack = try TestStack()
        try stack.start("vault")
        _ = try await stack.client("vault").call(
            "vault.putSecret", params: ["name": "s/2", "value": "spool-test-value", "readers": ["ingest"]])
        try stack.stop("vault")
        let database = stack.databasePath("vault")
        try sqlite3(
            database,
            #"INSERT INTO audit_spool (event) VALUES ('{"time":"2026-12-01T10:00:00.000Z","action":"Not An Action!","subject":"","outcome":"ok"}');"#
        )
        try stack.start("vault")
        let vault = stack.client("vault")
        _ = try await vault.call("vault.deleteSecret", params: ["name": "s/2"])
        #expect(try await vault.call("service.info")["queues"]?["auditSpool"] == 3)

        try stack.start("audit")
        let audit = stack.client("audit")
        try await eventually(timeout: 25) {
            try await vault.call("service.info")["queues"]?["auditSpool"] == 0
        }
        let items = try await audit.call("audit.query", params: ["action": "vault.*"])["items"]?.arrayValue ?? []
        #expect(items.map { $0["action"]?.stringValue ?? "" } == ["vault.putSecret", "vault.deleteSecret"])
        #expect(try await vault.call("service.info")["queues"]?["auditRejected"] == 1)
        #expect(try sqlite3(database, "SELECT reason FROM audit_spool_rejected;").contains("action"))
        let status = try stack.leadctl(["status"])
        #expect(status.stdout.contains("leadline-vault: 1 audit events refused by leadline-audit"), "\(status.stdout)")
        #expect(try await audit.call("audit.verify")["ok"] == true)
        stack.removeFiles()
    }
}
