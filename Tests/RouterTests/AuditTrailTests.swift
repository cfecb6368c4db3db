import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// The router's audit events reach the real leadline-audit (which refuses raw personal data)
/// and carry ids and statuses only.
@Suite struct AuditTrailTests {
    @Test func deliveryOutcomesArriveInTheAuditLogWithoutPersonalData() async throws {
        let harness = try await RouterHarness()
        try harness.stack.start("audit")
        let hubspot = try await HubSpotDouble(accessToken: "hubspot-test-token")
        try await harness.putSecret("crm/hubspot", "hubspot-test-token")
        try await harness.putDestination("hs", kind: "hubspot", baseUrl: hubspot.baseURL, credential: "crm/hubspot")
        try await harness.putRoute("all", destination: "hs", fieldMap: ["email": "email", "phone": "phone"])
        hubspot.faults.add(.serverError(503))

        let enqueued = try await harness.enqueue(RouterHarness.lead("audit", index: 1))
        let deliveryId = try #require(enqueued["deliveries"]?.arrayValue?.first?.stringValue)
        _ = try await harness.settled(expected: 1)

        let audit = harness.stack.client("audit")
        var outcomes: [String] = []
        try await eventually(timeout: 15) {
            let page = try await audit.call("audit.query", params: ["subject": .string(deliveryId)])
            outcomes = (page["items"]?.arrayValue ?? []).compactMap { $0["outcome"]?.stringValue }
            return outcomes.contains("delivered")
        }
        #expect(outcomes == ["retrying", "delivered"])
        let enqueue = try await audit.call(
            "audit.query", params: ["subject": "ld_audit_1", "action": "router.enqueueLead"])
        let actor = enqueue["items"]?.arrayValue?.first?["actor"]?.stringValue
        // The test user holds every service role, so the audit daemon names it by uid.
        #expect(actor == "uid:\(getuid())(\(harness.stack.userName))")
        let everything = try await audit.call("audit.export", params: [:])
        let text = String(decoding: try JSONCoding.encode(everything), as: UTF8.self)
        #expect(
            !text.contains("@example.com") && !text.contains("+4915123456789") && !text.contains("hubspot-test-token"))
        #expect(try await audit.call("audit.verify")["ok"] == .bool(true))
        await hubspot.shutdown()
        await harness.finish()
    }
}
