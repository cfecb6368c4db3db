import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// HubSpot through every fault a CRM throws: one contact per lead at the end, whatever happened.
@Suite struct HubSpotDeliveryTests {
    static let fieldMap: [String: JSONValue] = [
        "email": "email", "firstname": "firstName", "lastname": "lastName", "phone": "phone",
        "lead_source": ["const": "Leadline"],
    ]

    static func oauthCredential(accessToken: String) -> String {
        #"{"access_token":"\#(accessToken)","refresh_token":"na1-refresh-0000","client_id":"client-1","client_secret":"s3cret"}"#
    }

    @Test func validationErrorIsDeadAtOnceWithTheVendorsMessage() async throws {
        let harness = try await RouterHarness()
        let hubspot = try await HubSpotDouble()
        try await harness.putSecret("crm/hubspot", "hubspot-test-token")
        try await harness.putDestination("hs", kind: "hubspot", baseUrl: hubspot.baseURL, credential: "crm/hubspot")
        try await harness.putRoute("all", destination: "hs", fieldMap: Self.fieldMap)
        hubspot.faults.add(.validation)

        _ = try await harness.enqueue(RouterHarness.lead("hsval", index: 1))
        let settled = try await harness.settled(expected: 1)
        #expect(settled.first?["state"] == "dead")
        #expect(settled.first?["attempts"] == 1)
        #expect(settled.first?["lastError"]?.string.contains("Property values were not valid") == true)
        #expect(hubspot.records.isEmpty)

        // Replayed after the fix, it is delivered.
        let requeued = try await harness.router.call("router.retryDeliveries", params: ["state": "dead"])
        #expect(requeued["requeued"] == 1)
        let replayed = try await harness.settled(expected: 1)
        #expect(replayed.first?["state"] == "delivered")
        #expect(replayed.first?["crmRecordId"]?.string == hubspot.records["lead1.hsval@example.com"]?.id)
        await hubspot.shutdown()
        await harness.finish()
    }

    @Test func faultsExpiredTokenAndRateLimitsEndInOneContactPerLead() async throws {
        let harness = try await RouterHarness()
        // 429 interval shortened from the fixture's 10 s so the test waits 0.3 s.
        let hubspot = try await HubSpotDouble(
            accessToken: "CJSP-initial", rateLimitHeaders: ["X-HubSpot-RateLimit-Interval-Milliseconds": "300"])
        try await harness.putSecret("crm/hubspot", Self.oauthCredential(accessToken: "CJSP-initial"))
        try await harness.putDestination(
            "hs", kind: "hubspot", baseUrl: hubspot.baseURL, credential: "crm/hubspot", options: ["ratePerSecond": 200])
        try await harness.putRoute("all", destination: "hs", fieldMap: Self.fieldMap)

        // The token has expired before the first delivery: refresh, write back, go on.
        hubspot.tokens.expireAccessTokens()
        hubspot.faults.add([
            .serverError(500), .serverError(502), .serverError(503), .reset, .timeout(RouterHarness.beyondTimeout),
            .truncated,
            .slow(.milliseconds(300)), .rateLimited, .conflict,
        ])
        let leads = 8
        for index in 1...leads { _ = try await harness.enqueue(RouterHarness.lead("hsfault", index: index)) }

        let settled = try await harness.settled(expected: leads, timeout: 30)
        #expect(settled.allSatisfy { $0["state"] == "delivered" })
        #expect(hubspot.faults.pending == 0)
        #expect(hubspot.records.count == leads)
        for delivery in settled {
            let index = delivery["leadId"]!.string.split(separator: "_").last!
            #expect(delivery["crmRecordId"]?.string == hubspot.records["lead\(index).hsfault@example.com"]?.id)
        }
        // One refresh, written back to the vault with compare-and-swap.
        // One refresh for eight leads refused at once (a second only if the first answer was lost
        // to a starved test process), written back with compare-and-swap.
        #expect((1...2).contains(hubspot.tokens.refreshes))
        let stored = try await harness.storedSecret("crm/hubspot")
        #expect(stored.version == 2)
        #expect(stored.value.contains("CJSP-access-\(hubspot.tokens.refreshes)"))

        // The sync log shows the failed attempts with their status.
        var statuses: [Int64] = []
        for delivery in settled {
            let logged = try await harness.deliveries(leadId: delivery["leadId"]!.string)
            statuses += logged.first?["log"]?.arrayValue?.compactMap { $0["httpStatus"]?.intValue } ?? []
        }
        // (Which statuses survive depends on timing: on a loaded machine an answer may arrive after
        // the router gave up and be logged as a timeout. A 5xx burst always leaves some.)
        #expect(statuses.contains { (500...599).contains($0) })
        #expect(statuses.allSatisfy { [200, 207, 409, 429, 500, 502, 503].contains($0) })

        let events = try harness.spooledAuditEvents()
        #expect(events.filter { $0.contains("\"delivered\"") }.count == leads)
        #expect(!events.contains { $0.contains("@example.com") || $0.contains("+4915") || $0.contains("CJSP") })
        await hubspot.shutdown()
        await harness.finish()
    }
}
