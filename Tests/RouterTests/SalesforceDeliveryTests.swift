import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// Salesforce: upsert on the external-id field, session expiry with a new instance_url, request
/// limits, 5xx bursts and lost answers; exactly one Lead per lead.
@Suite struct SalesforceDeliveryTests {
    static let fieldMap: [String: JSONValue] = [
        "LastName": "lastName", "FirstName": "firstName", "Company": "company", "Email": "email",
        "LeadSource": ["const": "Facebook Lead Ads"],
    ]

    @Test func expiredSessionRefreshesAndUsesTheNewInstanceURL() async throws {
        let harness = try await RouterHarness()
        let salesforce = try await SalesforceDouble(accessToken: "00D-old")
        // The stored instance_url is stale: only the one the refresh returns reaches the API.
        try await harness.putSecret(
            "crm/salesforce",
            #"{"access_token":"00D-old","refresh_token":"5Aep-refresh-0000","client_id":"cid","client_secret":"cs","instance_url":"\#(salesforce.baseURL)/stale"}"#
        )
        try await harness.putDestination(
            "sf", kind: "salesforce", baseUrl: salesforce.baseURL, credential: "crm/salesforce",
            options: ["externalIdField": "Leadline_Id__c", "apiVersion": "v62.0", "ratePerSecond": 200])
        try await harness.putRoute("all", destination: "sf", fieldMap: Self.fieldMap)
        salesforce.tokens.expireAccessTokens()
        salesforce.faults.add([
            .serverError(503), .serverError(500), .rateLimited, .reset, .timeout(RouterHarness.beyondTimeout),
            .truncated,
            .slow(.milliseconds(200)),
        ])

        let leads = 6
        for index in 1...leads { _ = try await harness.enqueue(RouterHarness.lead("sf", index: index)) }
        // A lead without a company: Salesforce refuses it (400) and it is dead at once.
        _ = try await harness.enqueue(RouterHarness.lead("sfbad", index: 99, company: nil))

        let settled = try await harness.settled(expected: leads + 1, timeout: 30)
        let delivered = settled.filter { $0["state"] == "delivered" }
        #expect(delivered.count == leads)
        let dead = settled.filter { $0["state"] == "dead" }
        #expect(dead.count == 1)
        #expect(dead.first?["lastError"]?.string.contains("REQUIRED_FIELD_MISSING") == true)

        #expect(salesforce.records.count == leads)
        for delivery in delivered {
            let key = "Leadline_Id__c=\(delivery["leadId"]!.string)"
            #expect(delivery["crmRecordId"]?.string == salesforce.records[key]?.id)
        }
        #expect((1...2).contains(salesforce.tokens.refreshes))
        let stored = try await harness.storedSecret("crm/salesforce").value
        #expect(stored.contains("\"instance_url\":\"\(salesforce.baseURL)\""))
        // The stale instance only ever saw the first, refused attempts.
        #expect(
            salesforce.server.requests.filter { $0.path.hasPrefix("/stale") }.allSatisfy {
                $0.header("Authorization") == "Bearer 00D-old"
            })
        await salesforce.shutdown()
        await harness.finish()
    }

    @Test func withoutAnExternalIdFieldLeadsAreCreated() async throws {
        let harness = try await RouterHarness()
        let salesforce = try await SalesforceDouble(accessToken: "00D-current")
        try await harness.putSecret(
            "crm/salesforce",
            #"{"access_token":"00D-current","refresh_token":"5Aep-refresh-0000","instance_url":"\#(salesforce.baseURL)"}"#
        )
        try await harness.putDestination(
            "sf", kind: "salesforce", baseUrl: salesforce.baseURL, credential: "crm/salesforce")
        try await harness.putRoute("all", destination: "sf", fieldMap: Self.fieldMap)

        for index in 1...2 { _ = try await harness.enqueue(RouterHarness.lead("sfcreate", index: index)) }
        let settled = try await harness.settled(expected: 2)
        #expect(settled.allSatisfy { $0["state"] == "delivered" })
        #expect(Set(salesforce.records.values.map(\.id)) == Set(settled.compactMap { $0["crmRecordId"]?.stringValue }))
        #expect(
            salesforce.server.requests.filter { $0.method == "POST" }.allSatisfy {
                $0.path == "/services/data/v62.0/sobjects/Lead"
            })
        let check = try await harness.router.call("router.testDestination", params: ["id": "sf"])
        #expect(check["ok"] == .bool(true))
        await salesforce.shutdown()
        await harness.finish()
    }
}
