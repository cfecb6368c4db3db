import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// Each class of Graph API refusal (fixtures/meta/graph-errors.json) handled as it must be:
/// nothing is dropped, rate limits are waited out, token and permission problems hold the page.
@Suite struct GraphErrorTests {
    static let leadgenID = "444444444444444"

    static func harnessWithOneLead(failing failure: GraphAPIDouble.Failure, times: Int? = nil) async throws
        -> IngestHarness
    {
        let harness = try await IngestHarness()
        if let times { harness.graph.failNext(failure, times: times) } else { harness.graph.setFailure(failure) }
        #expect(try await harness.postWebhook(try Fixtures.data("meta/webhook-leadgen-string-ids.json")).status == 200)
        return harness
    }

    @Test(arguments: [GraphAPIDouble.Failure.temporary, .outage, .reset])
    func temporaryErrorsAreRetriedUntilTheLeadArrives(failure: GraphAPIDouble.Failure) async throws {
        let harness = try await Self.harnessWithOneLead(failing: failure, times: 2)
        try await harness.waitForLeads(1, timeout: 20)
        #expect(harness.graph.leadRequests(Self.leadgenID).count == 3)
        await harness.finish()
    }

    @Test(arguments: [GraphAPIDouble.Failure.appRateLimit, .userRateLimit, .customRateLimit, .leadgenRateLimit])
    func rateLimitsAreWaitedOutWithoutHammering(failure: GraphAPIDouble.Failure) async throws {
        let harness = try await Self.harnessWithOneLead(failing: failure, times: 1)
        try await eventually { harness.graph.leadRequests(Self.leadgenID).count == 1 }
        // Temporary errors retry after about a second; a rate limit waits at least a minute
        // (seven, as X-Business-Use-Case-Usage says, for the leadgen limit).
        try await Task.sleep(for: .seconds(4))
        #expect(harness.graph.leadRequests(Self.leadgenID).count == 1)
        #expect(try await harness.inbox("received") == 1)
        #expect(try await harness.stats()["pagesNeedingAttention"] == [])
        await harness.finish()
    }

    @Test(arguments: [
        (GraphAPIDouble.Failure.tokenExpired, "token-invalid"), (.tokenInvalid, "token-invalid"),
        (.passwordChanged, "token-invalid"), (.permissionDenied, "permission-denied"),
        (.leadsAccessRevoked, "permission-denied"),
    ])
    func tokenAndPermissionErrorsHoldThePageUntilANewTokenIsStored(failure: GraphAPIDouble.Failure, reason: String)
        async throws
    {
        let harness = try await Self.harnessWithOneLead(failing: failure)
        try await eventually { try await harness.inbox("waitingToken") == 1 }
        let stats = try await harness.stats()
        let page = try #require(stats["pagesNeedingAttention"]?.arrayValue?.first)
        #expect(page["pageId"] == .string(IngestHarness.pageID))
        #expect(page["reason"] == .string(reason))
        // Held, not hammered.
        let attempts = harness.graph.leadRequests(Self.leadgenID).count
        try await Task.sleep(for: .seconds(3))
        #expect(harness.graph.leadRequests(Self.leadgenID).count == attempts)
        #expect(harness.stack.log("ingest").contains("page needs attention"))
        #expect(!harness.stack.log("ingest").contains(IngestHarness.pageToken))

        harness.graph.setFailure(nil)
        try await harness.putSecret("meta/page/\(IngestHarness.pageID)", "EAAB-renewed-page-token")
        try await harness.waitForLeads(1, timeout: 20)
        let after = try await harness.stats()
        #expect(after["pagesNeedingAttention"] == [])
        #expect(after["inbox"]?["waitingToken"] == 0)
        await harness.finish()
    }

    @Test func aMissingPageTokenHoldsThePageUntilOneIsStored() async throws {
        let harness = try await IngestHarness(pageToken: nil)
        #expect(try await harness.postWebhook(try Fixtures.data("meta/webhook-leadgen-string-ids.json")).status == 200)
        try await eventually { try await harness.inbox("waitingToken") == 1 }
        #expect(try await harness.stats()["pagesNeedingAttention"]?.arrayValue?.first?["reason"] == "token-missing")
        #expect(harness.graph.requests.isEmpty)
        try await harness.putSecret("meta/page/\(IngestHarness.pageID)", IngestHarness.pageToken)
        try await harness.waitForLeads(1, timeout: 20)
        await harness.finish()
    }

    @Test func aLeadTheGraphAPIDoesNotKnowIsMarkedFailedNotRetriedForever() async throws {
        let harness = try await IngestHarness()
        #expect(try await harness.postWebhook(IngestHarness.webhookBody(leadgenIDs: ["999999999999999"])).status == 200)
        try await eventually { try await harness.inbox("failed") == 1 }
        #expect(try await harness.stats()["leads"] == 0)
        await harness.finish()
    }
}
