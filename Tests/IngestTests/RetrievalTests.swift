import Foundation
import GRDB
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// Webhook to stored, normalized lead through the Graph API double.
@Suite struct RetrievalTests {
    @Test func aBatchOfAThousandChangesIsStoredAndEveryLeadFetched() async throws {
        let harness = try await IngestHarness()
        let ids = (0..<1000).map { String(920_000_000_000_000 + $0) }
        for id in ids { try harness.graph.addSyntheticLead(id: id) }
        let response = try await harness.postWebhook(IngestHarness.webhookBody(leadgenIDs: ids))
        #expect(response.status == 200)
        // Acknowledged means stored: every change is in the inbox the moment the 200 arrives.
        let stats = try await harness.stats()
        let inbox = try #require(stats["inbox"])
        let waiting = (inbox["received"]?.intValue ?? 0) + (inbox["fetching"]?.intValue ?? 0)
        #expect(waiting + (stats["leads"]?.intValue ?? 0) >= 1000)
        try await harness.waitForLeads(1000, timeout: 45)
        #expect(try await harness.inbox("received") == 0)
        for id in ids { #expect(harness.graph.leadRequests(id).count == 1) }
        let one = try #require(try await harness.lead(externalID: ids[500]))
        #expect(one["fields"]?["email"] == .string("lead.\(ids[500])@example.com"))
        await harness.finish()
    }

    @Test func duplicatesAreStoredOnceAndNumericIdsBecomeStrings() async throws {
        let harness = try await IngestHarness()
        for id in ["900000000000001", "900000000000002", "123123123123"] { try harness.graph.addSyntheticLead(id: id) }
        try harness.graph.addSyntheticLead(id: "900000000000003", formID: "888888888888")
        try await harness.putSecret("meta/page/777777777777", IngestHarness.pageToken)

        let mixed = try Fixtures.data("meta/webhook-batch-mixed.json")
        let numeric = try Fixtures.data("meta/webhook-leadgen-int-ids.json")
        #expect(try await harness.postWebhook(mixed).status == 200)
        #expect(try await harness.postWebhook(numeric).status == 200)
        #expect(try await harness.postWebhook(mixed).status == 200)  // Meta retrying
        try await harness.waitForLeads(4)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await harness.stats()["leads"] == 4)
        #expect(harness.graph.leadRequests("900000000000001").count == 1)

        let numericLead = try #require(try await harness.lead(externalID: "123123123123"))
        #expect(numericLead["source"]?["pageId"] == "153125381133")
        #expect(numericLead["source"]?["formId"] == "555555555555")
        let otherPage = try #require(try await harness.lead(externalID: "900000000000003"))
        #expect(otherPage["source"]?["pageId"] == "777777777777")
        #expect(otherPage["source"]?["formId"] == "888888888888")
        await harness.finish()
    }

    @Test func facebookInstagramAndOrganicLeadsAreNormalized() async throws {
        let harness = try await IngestHarness()
        #expect(try await harness.postWebhook(try Fixtures.data("meta/webhook-leadgen-string-ids.json")).status == 200)
        #expect(try await harness.postWebhook(try Fixtures.data("meta/webhook-leadgen-organic.json")).status == 200)
        #expect(
            try await harness.postWebhook(
                IngestHarness.webhookBody(leadgenIDs: ["444444444444446"], formID: "555555555556")
            )
            .status == 200)
        try await harness.waitForLeads(3)

        let facebook = try #require(try await harness.lead(externalID: "444444444444444"))
        #expect(facebook["source"]?["platform"] == "facebook")
        #expect(facebook["source"]?["isOrganic"] == false)
        #expect(facebook["source"]?["adId"] == "666666666666")
        #expect(facebook["source"]?["adsetId"] == "676767676767")
        #expect(facebook["source"]?["campaignId"] == "686868686868")
        #expect(facebook["createdAt"] == "2026-11-23T10:13:10.000Z")
        #expect(
            facebook["fields"]
                == [
                    "email": "jane.doe@example.com", "phone": "+4915123456789", "fullName": "Jane Doe",
                    "firstName": "Jane",
                    "lastName": "Doe", "city": "Berlin",
                ])
        #expect(facebook["custom"] == ["which_plan_fits_you?": "Business", "interests": "Pricing, Integrations"])
        #expect(
            facebook["consents"] == [["key": "optional_1", "checked": true], ["key": "newsletter", "checked": false]])
        #expect(facebook["raw"]?["field_data"]?.arrayValue?.first?["values"] == ["  Jane.Doe@Example.COM "])

        let organic = try #require(try await harness.lead(externalID: "444444444444445"))
        #expect(organic["source"]?["isOrganic"] == true)
        #expect(organic["source"]?["adId"] == nil)
        #expect(organic["fields"]?["firstName"] == "Ömer")
        #expect(organic["fields"]?["lastName"] == "Çelik")

        let instagram = try #require(try await harness.lead(externalID: "444444444444446"))
        #expect(instagram["source"]?["platform"] == "instagram")
        #expect(instagram["fields"]?["fullName"] == "Ана Петрова")
        #expect(instagram["fields"]?["company"] == "ООО Ромашка")
        // No country known: the number stays as entered rather than being guessed into E.164.
        #expect(instagram["fields"]?["phone"] == "8 (912) 345-67-89")
        let instagramForm = try await harness.ingest.call("ingest.listLeads", params: ["formId": "555555555556"])
        #expect(instagramForm["items"]?.arrayValue?.map { $0["id"] } == [instagram["id"]])

        // Every Graph call carried the page token out of the URL and a valid appsecret_proof.
        for request in harness.graph.requests {
            #expect(request.header("Authorization") == "Bearer \(IngestHarness.pageToken)")
            #expect(request.query["access_token"] == nil)
            #expect(
                request.query["appsecret_proof"]
                    == GraphAPIDouble.appSecretProof(token: IngestHarness.pageToken, appSecret: IngestHarness.appSecret)
            )
        }
        await harness.finish()
    }

    @Test func aCrashBetweenTheAcknowledgementAndTheRetrievalLosesNothing() async throws {
        let harness = try await IngestHarness()
        harness.graph.setFailure(.outage)
        let ids = (0..<20).map { String(930_000_000_000_000 + $0) }
        for id in ids { try harness.graph.addSyntheticLead(id: id) }
        #expect(try await harness.postWebhook(IngestHarness.webhookBody(leadgenIDs: ids)).status == 200)
        try await harness.crashAndRestartIngest()
        harness.graph.setFailure(nil)
        try await harness.waitForLeads(20, timeout: 30)
        #expect(try await harness.inbox("received") == 0)
        await harness.finish()
    }

    /// A vault outage is ours, not the lead's: the lead is retried every few seconds without
    /// counting attempts, so the backoff it would otherwise grow (up to 15 minutes) cannot delay
    /// it once the vault is back.
    @Test func aVaultOutageDoesNotGrowTheLeadsBackoff() async throws {
        let harness = try await IngestHarness()
        // The app secret gets cached by a first webhook, so the endpoint still answers 200.
        try harness.graph.addSyntheticLead(id: "940000000000001")
        #expect(try await harness.postWebhook(IngestHarness.webhookBody(leadgenIDs: ["940000000000001"])).status == 200)
        try await harness.waitForLeads(1)
        let otherPage = "777777777777"
        try await harness.putSecret("meta/page/\(otherPage)", IngestHarness.pageToken)
        try harness.graph.addSyntheticLead(id: "940000000000002")
        try harness.stack.stop("vault")

        let body = MetaWebhook.body(leadgenIDs: ["940000000000002"], pageID: otherPage)
        #expect(try await harness.postWebhook(body).status == 200)
        try await eventually(timeout: 20) {
            harness.stack.log("ingest").components(separatedBy: "reason=vault unavailable").count > 3
        }
        let database = try DatabaseQueue(
            path: harness.stack.databasePath("ingest"),
            configuration: {
                var c = Configuration(); c.readonly = true; return c
            }())
        let attempts = try await database.read { db in
            try Int.fetchOne(db, sql: "SELECT attempts FROM inbox WHERE leadgen_id = '940000000000002'")
        }
        try database.close()
        #expect(attempts == 0)

        try harness.stack.start("vault")
        try await harness.waitForLeads(2, timeout: 20)
        await harness.finish()
    }

    @Test func leadsWaitForTheRouterWhileItIsDown() async throws {
        let harness = try await IngestHarness()
        #expect(try await harness.postWebhook(try Fixtures.data("meta/webhook-leadgen-string-ids.json")).status == 200)
        try await harness.waitForLeads(1)
        try await Task.sleep(for: .seconds(2))
        #expect(try await harness.inbox("ready") == 1)
        #expect(try await harness.inbox("handedOff") == 0)
        #expect(harness.stack.log("ingest").contains("router unreachable; leads wait for it"))
        await harness.finish()
    }
}
