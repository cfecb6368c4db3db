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
}
