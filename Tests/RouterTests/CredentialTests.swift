import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// OAuth tokens: refreshed before they expire, and written back without clobbering another
/// refresher's work.
@Suite struct CredentialTests {
    static let fieldMap: [String: JSONValue] = ["email": "email", "firstname": "firstName"]

    @Test func tokenNearExpiryIsRefreshedBeforeTheFirstRequest() async throws {
        let harness = try await RouterHarness()
        let hubspot = try await HubSpotDouble(accessToken: "CJSP-soon-expired")
        let expiresSoon = Date().addingTimeInterval(30).formatted(.iso8601)
        try await harness.putSecret(
            "crm/hubspot",
            #"{"access_token":"CJSP-soon-expired","refresh_token":"na1-refresh-0000","client_id":"c","client_secret":"s","expires_at":"\#(expiresSoon)"}"#
        )
        try await harness.putDestination("hs", kind: "hubspot", baseUrl: hubspot.baseURL, credential: "crm/hubspot")
        try await harness.putRoute("all", destination: "hs", fieldMap: Self.fieldMap)

        _ = try await harness.enqueue(RouterHarness.lead("soon", index: 1))
        let settled = try await harness.settled(expected: 1)
        #expect(settled.first?["state"] == "delivered")
        // The token endpoint came first; no request was sent with the old token.
        #expect(hubspot.server.requests.first?.path == "/oauth/v1/token")
        #expect(!hubspot.server.requests.contains { $0.header("Authorization") == "Bearer CJSP-soon-expired" })
        let stored = try await harness.storedSecret("crm/hubspot")
        #expect(stored.version == 2)
        #expect(stored.value.contains("CJSP-access-\(hubspot.tokens.refreshes)"))
        // The vault learns when the new token expires (fixture: expires_in 1800).
        let expiry = try #require(
            stored.expiresAt.flatMap {
                (try? Date($0, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
                    ?? (try? Date($0, strategy: .iso8601))
            })
        #expect(expiry.timeIntervalSinceNow > 1700)
        await hubspot.shutdown()
        await harness.finish()
    }

    @Test func aConflictingWriteBackRereadsInsteadOfOverwriting() async throws {
        // The stand-in can play the other refresher at exactly the wrong moment; the real vault cannot.
        let harness = try await RouterHarness(realVault: false)
        let hubspot = try await HubSpotDouble(accessToken: "CJSP-initial")
        try await harness.putSecret(
            "crm/hubspot",
            #"{"access_token":"CJSP-initial","refresh_token":"na1-refresh-0000","client_id":"c","client_secret":"s"}"#)
        try await harness.putDestination("hs", kind: "hubspot", baseUrl: hubspot.baseURL, credential: "crm/hubspot")
        try await harness.putRoute("all", destination: "hs", fieldMap: Self.fieldMap)

        // Another refresher gets a token and stores it just before the router's write-back.
        hubspot.tokens.expireAccessTokens()
        let theirs = try #require(hubspot.tokens.refresh(with: "na1-refresh-0000"))
        let theirValue =
            #"{"access_token":"\#(theirs)","refresh_token":"na1-refresh-0000","client_id":"c","client_secret":"s"}"#
        harness.vault.someoneElseUpdatesFirst(with: theirValue)

        _ = try await harness.enqueue(RouterHarness.lead("race", index: 1))
        let settled = try await harness.settled(expected: 1)
        #expect(settled.first?["state"] == "delivered")
        // The router's own update lost the compare-and-swap; the other refresher's value stands.
        #expect(harness.vault.updateCount == 0)
        #expect(harness.vault.secret("crm/hubspot")?.value == theirValue)
        #expect(hubspot.server.requests.last?.header("Authorization") == "Bearer \(theirs)")
        await hubspot.shutdown()
        await harness.finish()
    }
}
