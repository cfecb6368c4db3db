import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// Destinations and routes are checked when put: bad ones are typed errors naming the field,
/// change nothing, and the daemon keeps serving.
@Suite struct CatalogTests {
    @Test func routesAreValidatedAgainstLeadFieldsAndCRMRequirements() async throws {
        let harness = try await RouterHarness()
        let router = harness.router
        let crm = try await harness.putDestination(
            "sf", kind: "salesforce", baseUrl: "http://127.0.0.1:9", credential: "crm/sf")
        #expect(crm["baseUrl"]?.string == "http://127.0.0.1:9")
        #expect(crm["options"] == .object([:]))
        let hubspot = try await harness.putDestination("hs", kind: "hubspot", credential: "crm/hs")
        #expect(hubspot["baseUrl"]?.string == "https://api.hubapi.com")

        let unknownField = await router.expectError(
            "router.putRoute",
            params: [
                "id": "r1", "match": [:], "destinationId": "hs",
                "fieldMap": ["email": "email", "favourite": "favouriteColour"],
            ])
        #expect(unknownField?.name == "ValidationFailed")
        #expect(unknownField?.detail.contains("favouriteColour") == true)

        let badTemplate = await router.expectError(
            "router.putRoute",
            params: [
                "id": "r1", "match": [:], "destinationId": "hs",
                "fieldMap": ["email": "email", "name": "{{firstName}} {{surname}}"],
            ])
        #expect(badTemplate?.detail.contains("surname") == true)

        let noCompany = await router.expectError(
            "router.putRoute",
            params: [
                "id": "r2", "match": [:], "destinationId": "sf",
                "fieldMap": ["LastName": "lastName", "Email": "email"],
            ])
        #expect(noCompany?.name == "ValidationFailed")
        #expect(noCompany?.detail.contains("Company") == true)

        let noDestination = await router.expectError(
            "router.putRoute", params: ["id": "r3", "match": [:], "destinationId": "nope", "fieldMap": [:]])
        #expect(noDestination?.name == "NotFound")

        let webhookWithoutURL = await router.expectError(
            "router.putDestination", params: ["id": "wh", "kind": "webhook", "credential": "hooks/key"])
        #expect(webhookWithoutURL != nil)

        // None of the refused calls stored anything.
        #expect(try await router.call("router.listRoutes")["items"] == .array([]))

        let route = try await harness.putRoute(
            "sf-all", destination: "sf",
            fieldMap: [
                "LastName": "lastName", "Company": ["const": "Unknown"], "FirstName": "firstName",
                "Description": "{{firstName}} asked about {{custom.which_plan_fits_you?}}",
                "LeadSource": "source.platform",
            ])
        #expect(route["enabled"] == .bool(true))
        let routes = try await router.call("router.listRoutes")["items"]?.arrayValue ?? []
        #expect(routes.map { $0["id"]?.string } == ["sf-all"])
        let destinations = try await router.call("router.listDestinations")["items"]?.arrayValue ?? []
        #expect(destinations.map { $0["id"]?.string } == ["hs", "sf"])

        let inUse = await router.expectError("router.deleteDestination", params: ["id": "sf"])
        #expect(inUse?.name == "Conflict")
        // Changing the kind under a route that would no longer be deliverable is refused.
        let kindChange = await router.expectError(
            "router.putDestination", params: ["id": "sf", "kind": "hubspot", "credential": "crm/sf"])
        #expect(kindChange?.name == "ValidationFailed")

        #expect(
            try await router.call("router.deleteRoute", params: ["id": "sf-all"]) == ["id": "sf-all", "deleted": true])
        #expect(await router.expectError("router.deleteRoute", params: ["id": "sf-all"])?.name == "NotFound")
        #expect(try await router.call("router.deleteDestination", params: ["id": "sf"])["deleted"] == .bool(true))
        #expect(try await router.call("service.ping")["pong"] == .bool(true))
        await harness.finish()
    }

    @Test func enqueueIsIdempotentOnTheLeadIdAndMatchesRoutes() async throws {
        let harness = try await RouterHarness()
        // Port 9 (discard) refuses: deliveries stay retrying, which is all this test needs.
        try await harness.putDestination("hs", kind: "hubspot", baseUrl: "http://127.0.0.1:9", credential: "crm/hs")
        try await harness.putRoute(
            "only-form-a", destination: "hs", fieldMap: ["email": "email"], match: ["formId": "form-a"])

        let first = try await harness.enqueue(RouterHarness.lead("idem", index: 1, formId: "form-a"))
        #expect(first["duplicate"] == .bool(false))
        #expect(first["deliveries"]?.arrayValue?.count == 1)
        let again = try await harness.enqueue(RouterHarness.lead("idem", index: 1, formId: "form-a"))
        #expect(again["duplicate"] == .bool(true))
        #expect(again["deliveries"] == first["deliveries"])

        let unmatched = try await harness.enqueue(RouterHarness.lead("idem", index: 2, formId: "form-b"))
        #expect(unmatched["deliveries"] == .array([]))
        #expect(unmatched["duplicate"] == .bool(false))
        // A lead no route takes is remembered by id only.
        #expect(try harness.holdsPayload(of: "ld_idem_1"))
        #expect(try !harness.holdsPayload(of: "ld_idem_2"))
        #expect(
            try await harness.enqueue(RouterHarness.lead("idem", index: 2, formId: "form-b"))["duplicate"]
                == .bool(true))

        let bad = await harness.router.expectError("router.enqueueLead", params: ["lead": ["id": "x"]])
        #expect(bad?.name == "InvalidParams")
        #expect(try await harness.deliveries().count == 1)

        // Deleting the destination ends its waiting delivery.
        _ = try await harness.router.call("router.deleteRoute", params: ["id": "only-form-a"])
        _ = try await harness.router.call("router.deleteDestination", params: ["id": "hs"])
        var gone: [JSONValue] = []
        try await eventually {
            gone = try await harness.deliveries()
            return gone.first?["state"] == "dead"
        }
        #expect(gone.first?["lastError"] == "destination deleted")

        let events = try harness.spooledAuditEvents()
        #expect(events.contains { $0.contains("router.enqueueLead") })
        #expect(!events.contains { $0.contains("@example.com") })
        await harness.finish()
    }
}
