import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// Ingest to the real leadline-router: a lead counts as handed off only once the router has it.
@Suite struct HandoffTests {
    @Test func leadsWaitWhileTheRouterIsDownAndAreHandedOffOnceItAnswers() async throws {
        let harness = try await IngestHarness()
        #expect(try await harness.postWebhook(try Fixtures.data("meta/webhook-leadgen-string-ids.json")).status == 200)
        try await harness.waitForLeads(1)
        try await Task.sleep(for: .seconds(1))
        #expect(try await harness.inbox("ready") == 1)
        #expect(try await harness.inbox("handedOff") == 0)

        try harness.stack.start("router")
        try await eventually(timeout: 20) { try await harness.inbox("handedOff") == 1 }
        #expect(try await harness.inbox("ready") == 0)

        // The router has exactly this lead: enqueueing it again is a duplicate of the same id.
        let lead = try #require(try await harness.lead(externalID: "444444444444444"))
        let again = try await harness.stack.client("router").call("router.enqueueLead", params: ["lead": lead])
        #expect(again["leadId"] == lead["id"])
        #expect(again["duplicate"] == true)
        await harness.finish()
    }
}
