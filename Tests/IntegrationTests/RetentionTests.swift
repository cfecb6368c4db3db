import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// Retention across ingest, router and audit, on demand through leadctl. The daemons' clock is
/// moved with LEADLINE_TEST_NOW (a restart away) instead of waiting 30 days.
@Suite struct RetentionTests {
    static let policy = "[retention]\nlead_days = 30\ndelivery_log_days = 90\naudit_days = 730\n"

    @Test func retentionRemovesExactlyWhatIsDueAndReportsIt() async throws {
        let stack = try TestStack(extraConfig: Self.policy, environment: ["LEADLINE_ROUTER_BACKOFF_BASE_MS": "200"])
        for service in ["vault", "audit", "router"] { try stack.start(service) }
        try stack.start("ingest", webhook: true)
        let ingest = stack.client("ingest")
        let router = stack.client("router")
        try await serving(router)

        // Leads of form f-ok are delivered to a webhook receiver; those of form f-down go to one
        // that is not there, so their delivery never settles.
        let receiver = try await WebhookReceiverDouble(secret: "whsec-test")
        _ = try await stack.client("vault").call(
            "vault.putSecret", params: ["name": "hooks/signing", "value": "whsec-test", "readers": ["router"]])
        _ = try await router.call(
            "router.putDestination",
            params: [
                "id": "up", "kind": "webhook", "credential": "hooks/signing", "options": ["url": .string(receiver.url)],
            ])
        _ = try await router.call(
            "router.putRoute",
            params: ["id": "up", "match": ["formId": "f-ok"], "destinationId": "up", "fieldMap": [:]])
        _ = try await router.call(
            "router.putDestination",
            params: [
                "id": "down", "kind": "webhook", "credential": "hooks/signing",
                "options": ["url": .string("http://127.0.0.1:\(try TestStack.freePort())/hook")],
            ])
        _ = try await router.call(
            "router.putRoute",
            params: ["id": "down", "match": ["formId": "f-down"], "destinationId": "down", "fieldMap": [:]])

        var emails: [String: String] = [:]
        func submit(_ name: String, form: String) async throws -> String {
            let email = "\(name).\(UUID().uuidString.prefix(6).lowercased())@example.com"
            let lead: JSONValue = [
                "source": ["platform": "api", "formId": .string(form)], "fields": ["email": .string(email)],
            ]
            let answer = try await ingest.call(
                "ingest.submitLead", params: ["lead": lead, "idempotencyKey": .string(name)])
            let id = try #require(answer["id"]?.stringValue)
            emails[id] = email
            return id
        }
        let settledLeads = [try await submit("a1", form: "f-ok"), try await submit("a2", form: "f-ok")]
        let unsettled = try await submit("b", form: "f-down")
        try await eventually(timeout: 30) { try await ingest.call("ingest.stats")["inbox"]?["handedOff"] == 3 }
        try await eventually(timeout: 30) {
            let deliveries = try await router.call("router.listDeliveries", params: ["leadId": .string(unsettled)])
            return deliveries["items"]?.arrayValue?.first?["state"] == "retrying"
        }
        try await eventually(timeout: 30) {
            try await router.call("router.listDeliveries", params: ["state": "delivered"])["items"]?.arrayValue?.count
                == 2
        }

        // A lead the router never received is kept by ingest whatever its age.
        try stack.stop("router")
        let notHandedOff = try await submit("c", form: "f-ok")

        // 29 days on: nothing is due yet. The router is down: the others still run, exit code 3.
        try restart(stack, "ingest", daysFromNow: 29)
        let early = try stack.leadctl(["privacy", "retention", "--run", "--json"])
        #expect(early.exitCode == 3, "\(early.stderr)")
        let earlyReport = try #require(early.json as? [String: Any])
        #expect(removed(earlyReport, "ingest")?["leads"] as? Int == 0)
        #expect(removed(earlyReport, "audit")?["events"] as? Int == 0)
        #expect((earlyReport["failed"] as? [String: Any])?["router"] != nil)
        #expect(early.stderr.contains("leadline-router"))

        // 31 days on: ingest's pass at start removes the three leads the router holds and keeps
        // the fourth; a pass on demand right after finds nothing more.
        try restart(stack, "ingest", daysFromNow: 31)
        let ingestNow = stack.client("ingest")
        #expect(try await ingestNow.call("ingest.runRetention")["removed"] == ["leads": 0])
        for id in settledLeads + [unsettled] {
            #expect(await ingestNow.expectError("ingest.getLead", params: ["id": .string(id)])?.name == "NotFound")
        }
        #expect(try await ingestNow.call("ingest.getLead", params: ["id": .string(notHandedOff)])["id"] != nil)

        // The router comes back 31 days on as well; its pass at start drops the payloads of the two
        // delivered leads and keeps the one still retrying. Then it receives and delivers the kept lead.
        try stack.start("router", extraEnvironment: ["LEADLINE_TEST_NOW": timestamp(daysFromNow: 31)])
        try await serving(stack.client("router"))
        try await eventually(timeout: 90) { try await ingestNow.call("ingest.stats")["inbox"]?["handedOff"] == 1 }
        let routerNow = stack.client("router")
        try await eventually(timeout: 30) {
            try await routerNow.call("router.listDeliveries", params: ["state": "delivered"])["items"]?.arrayValue?
                .count
                == 3
        }

        // leadctl runs every daemon's pass: the router drops the payload of the lead just delivered
        // (settled before the cutoff by the moved clock) and still keeps the retrying one;
        // ingest drops the lead it just handed off; audit has nothing due.
        let run = try stack.leadctl(["privacy", "retention", "--run", "--json"])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let report = try #require(run.json as? [String: Any])
        #expect(removed(report, "ingest")?["leads"] as? Int == 1)
        #expect(removed(report, "router")?["leadPayloads"] as? Int == 1)
        #expect(removed(report, "router")?["deliveries"] as? Int == 0)
        #expect(removed(report, "router")?["deliveryAttempts"] as? Int == 0)
        #expect(removed(report, "audit")?["events"] as? Int == 0)
        #expect((report["policy"] as? [String: Any])?["leadDays"] as? Int == 30)
        // Run again: nothing more is due.
        let again = try stack.leadctl(["privacy", "retention", "--run"])
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect(again.stdout.contains("leads 0"))
        #expect(again.stdout.contains("leadPayloads 0"))

        // Each pass that removed something is in the audit log, with counts and no personal data.
        let audit = stack.client("audit")
        try await eventually(timeout: 20) {
            let events = try await audit.call("audit.query", params: ["action": "ingest.retentionApplied"])
            return events["items"]?.arrayValue?.count == 2
        }
        let ingestEvents = try await audit.call("audit.query", params: ["action": "ingest.retentionApplied"])
        #expect(ingestEvents["items"]?.arrayValue?.map { $0["details"]?["leads"] } == [3, 1])
        try await eventually(timeout: 20) {
            let events = try await audit.call("audit.query", params: ["action": "router.retentionApplied"])
            return events["items"]?.arrayValue?.count == 2
        }
        let routerEvents = try await audit.call("audit.query", params: ["action": "router.retentionApplied"])
        #expect(routerEvents["items"]?.arrayValue?.map { $0["details"]?["leadPayloads"] } == [2, 1])
        #expect(try await audit.call("audit.verify")["ok"] == true)

        // The bytes: removed addresses are in no state file; the retrying lead's still is (router).
        for service in ["ingest", "router", "vault", "audit"] { try stack.stop(service) }
        let files = (FileManager.default.enumerator(atPath: stack.stateDir)?.allObjects as? [String]) ?? []
        let contents = files.map { (try? Data(contentsOf: URL(fileURLWithPath: "\(stack.stateDir)/\($0)"))) ?? Data() }
        for id in settledLeads + [notHandedOff] {
            let email = try #require(emails[id])
            #expect(!contents.contains { $0.range(of: Data(email.utf8)) != nil }, "a removed lead's address remains")
        }
        let kept = try #require(emails[unsettled])
        #expect(
            (try? Data(contentsOf: URL(fileURLWithPath: stack.databasePath("router"))))?.range(of: Data(kept.utf8))
                != nil
                || (try? Data(contentsOf: URL(fileURLWithPath: stack.databasePath("router") + "-wal")))?.range(
                    of: Data(kept.utf8)) != nil,
            "the lead still waiting for delivery lost its data")
        await receiver.shutdown()
        stack.removeFiles()
    }

    @Test func withoutRunItShowsThePolicy() throws {
        let stack = try TestStack(extraConfig: Self.policy)
        let shown = try stack.leadctl(["privacy", "retention"])
        #expect(shown.exitCode == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("30 days after delivery settled"))
        #expect(shown.stdout.contains("[retention] audit_days"))
        let json = try stack.leadctl(["privacy", "retention", "--json"])
        #expect(
            (json.json as? [String: Any])?["policy"] as? [String: Int] == [
                "leadDays": 30, "deliveryLogDays": 90, "auditDays": 730,
            ])
        stack.removeFiles()
    }

    private func removed(_ report: [String: Any], _ service: String) -> [String: Any]? {
        ((report["runs"] as? [String: Any])?[service] as? [String: Any])?["removed"] as? [String: Any]
    }

    private func restart(_ stack: TestStack, _ service: String, daysFromNow days: Double) throws {
        try stack.stop(service)
        try stack.start(
            service, webhook: service == "ingest", extraEnvironment: ["LEADLINE_TEST_NOW": timestamp(daysFromNow: days)]
        )
    }

    private func serving(_ client: RecordingClient) async throws {
        try await eventually(timeout: 10) { try await client.call("service.ping")["pong"] == .bool(true) }
    }

    private func timestamp(daysFromNow days: Double) -> String {
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        style.timeZone = .gmt
        return Date().addingTimeInterval(days * 86_400).formatted(style)
    }
}
