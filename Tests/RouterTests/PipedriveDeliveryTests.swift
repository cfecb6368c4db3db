import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// Pipedrive has no idempotency key: lost answers after a person or a lead was created must not
/// create a second one.
@Suite struct PipedriveDeliveryTests {
    static let fieldMap: [String: JSONValue] = [
        "name": "{{firstName}} {{lastName}}", "email": "email", "phone": "phone",
        "title": "{{firstName}} {{lastName}} — {{source.formId}}",
    ]

    @Test func lostAnswersAndRateLimitsCreateOnePersonAndOneLeadPerLead() async throws {
        let harness = try await RouterHarness()
        let pipedrive = try await PipedriveDouble(rateLimitHeaders: ["x-ratelimit-reset": "1"])
        try await harness.putSecret("crm/pipedrive", "pipedrive-test-token")
        try await harness.putDestination(
            "pd", kind: "pipedrive", baseUrl: pipedrive.baseURL, credential: "crm/pipedrive",
            options: ["ownerId": 7, "ratePerSecond": 200])
        try await harness.putRoute("all", destination: "pd", fieldMap: Self.fieldMap)
        // A truncated or reset answer after POST /v1/persons leaves a person the retry must find by
        // email; after POST /v1/leads, a lead the retry must find on the person.
        pipedrive.faults.add([
            .truncated, .reset, .timeout(RouterHarness.beyondTimeout), .rateLimited, .serverError(502),
            .serverError(500),
            .slow(.milliseconds(200)), .truncated, .reset,
        ])
        let leads = 5
        for index in 1...leads { _ = try await harness.enqueue(RouterHarness.lead("pd", index: index)) }

        let settled = try await harness.settled(expected: leads, timeout: 30)
        #expect(settled.allSatisfy { $0["state"] == "delivered" })
        #expect(pipedrive.persons.count == leads)
        #expect(pipedrive.leads.count == leads)
        #expect(Set(pipedrive.leads.map(\.id)) == Set(settled.compactMap { $0["crmRecordId"]?.stringValue }))
        #expect(pipedrive.server.requests.allSatisfy { $0.query["api_token"] == nil })
        await pipedrive.shutdown()
        await harness.finish()
    }

    /// A reset after Pipedrive committed the person, on a kept-alive connection: the HTTP client
    /// must not send the POST again by itself (libcurl replays a request on a reused connection
    /// that dies before any byte of the answer), or the person is created twice in one attempt.
    @Test func resetAfterCreateOnReusedConnectionIsNotReplayed() async throws {
        let harness = try await RouterHarness()
        let pipedrive = try await PipedriveDouble()
        try await harness.putSecret("crm/pipedrive", "pipedrive-test-token")
        try await harness.putDestination(
            "pd", kind: "pipedrive", baseUrl: pipedrive.baseURL, credential: "crm/pipedrive",
            options: ["ownerId": 7, "ratePerSecond": 200])
        try await harness.putRoute("all", destination: "pd", fieldMap: Self.fieldMap)
        // The search opens the connection and answers (not found); the create on the same
        // connection is applied, then the connection drops with no answer.
        pipedrive.faults.add([.slow(.zero), .reset])
        _ = try await harness.enqueue(RouterHarness.lead("pd", index: 1))

        let settled = try await harness.settled(expected: 1, timeout: 30)
        #expect(settled.allSatisfy { $0["state"] == "delivered" })
        #expect(pipedrive.persons.count == 1)
        #expect(pipedrive.leads.count == 1)
        #expect(pipedrive.server.requests.filter { $0.method == "POST" && $0.path == "/v1/persons" }.count == 1)
        await pipedrive.shutdown()
        await harness.finish()
    }
}
