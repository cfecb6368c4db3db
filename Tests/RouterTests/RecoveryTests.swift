import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// What happens around deliveries: a router killed mid-delivery, erasure, paging.
@Suite struct RecoveryTests {
    @Test func routerKilledMidDeliveryCreatesNoDuplicate() async throws {
        let harness = try await RouterHarness()
        let pipedrive = try await PipedriveDouble()
        try await harness.putSecret("crm/pipedrive", "pipedrive-test-token")
        try await harness.putDestination(
            "pd", kind: "pipedrive", baseUrl: pipedrive.baseURL, credential: "crm/pipedrive",
            options: ["ratePerSecond": 200])
        try await harness.putRoute(
            "all", destination: "pd",
            fieldMap: ["name": "{{firstName}} {{lastName}}", "email": "email", "title": "{{firstName}} via Leadline"])
        // Every request is slow, so the kill lands while writes are applied but not yet answered.
        pipedrive.faults.add(.slow(.milliseconds(700)), times: 40)

        let leads = 6
        for index in 1...leads { _ = try await harness.enqueue(RouterHarness.lead("crash", index: index)) }
        try await eventually(timeout: 10) { pipedrive.persons.count >= 2 }
        try harness.stack.crashAndRestart("router")

        let settled = try await harness.settled(expected: leads, timeout: 40)
        #expect(settled.allSatisfy { $0["state"] == "delivered" })
        #expect(pipedrive.persons.count == leads)
        #expect(pipedrive.leads.count == leads)
        var interrupted = 0
        for delivery in settled {
            let log = try await harness.deliveries(leadId: delivery["leadId"]!.string).first?["log"]?.arrayValue ?? []
            interrupted += log.filter { $0["error"]?.string.hasPrefix("interrupted") == true }.count
        }
        #expect(interrupted > 0)
        await pipedrive.shutdown()
        await harness.finish()
    }

    @Test func deliveriesGiveUpAfterTheAttemptWindow() async throws {
        // A 1.5 s attempt window stands in for [router] max_attempts_hours.
        let harness = try await RouterHarness(environment: ["LEADLINE_ROUTER_MAX_ATTEMPTS_MS": "1500"])
        try await harness.putSecret("crm/hubspot", "token")
        try await harness.putDestination(
            "down", kind: "hubspot", baseUrl: "http://127.0.0.1:9", credential: "crm/hubspot")
        try await harness.putRoute("down", destination: "down", fieldMap: ["email": "email"], match: ["formId": "a"])
        _ = try await harness.enqueue(RouterHarness.lead("window", index: 1, formId: "a"))
        let expired = try await harness.settled(expected: 1, timeout: 15)
        #expect(expired.first?["state"] == "dead")
        #expect(expired.first?["lastError"]?.string.hasPrefix("gave up after max_attempts_hours") == true)
        #expect((expired.first?["attempts"]?.intValue ?? 0) > 1)

        await harness.finish()
    }

    @Test func eraseRetryAndPaging() async throws {
        let harness = try await RouterHarness()
        // Nothing listens on port 9: deliveries keep retrying until erased.
        try await harness.putSecret("crm/hubspot", "token")
        try await harness.putDestination(
            "hs", kind: "hubspot", baseUrl: "http://127.0.0.1:9", credential: "crm/hubspot")
        try await harness.putRoute("all", destination: "hs", fieldMap: ["email": "email"])
        for index in 1...5 { _ = try await harness.enqueue(RouterHarness.lead("erase", index: index)) }

        let page = try await harness.router.call("router.listDeliveries", params: ["limit": 2])
        #expect(page["items"]?.arrayValue?.count == 2)
        let cursor = try #require(page["nextCursor"]?.stringValue)
        let rest = try await harness.router.call(
            "router.listDeliveries", params: ["limit": 10, "cursor": .string(cursor)])
        #expect(rest["items"]?.arrayValue?.count == 3)
        #expect(rest["nextCursor"] == nil)
        let all = try await harness.deliveries()
        #expect(Set(all.compactMap { $0["id"]?.stringValue }).count == 5)
        #expect(
            await harness.router.expectError("router.listDeliveries", params: ["cursor": "bm90LWEtY3Vyc29y"])?.name
                == "InvalidParams")

        try await eventually { try await harness.deliveries(state: "retrying").count == 5 }
        let retrying = try await harness.deliveries(leadId: "ld_erase_1")
        #expect(retrying.first?["log"]?.arrayValue?.first?["error"]?.string.contains("connection") == true)

        let erased = try await harness.router.call(
            "router.eraseLeads", params: ["leadIds": ["ld_erase_1", "ld_erase_2", "ld_never_seen"]])
        #expect(erased["erased"] == 2)
        #expect(try await harness.router.call("router.eraseLeads", params: ["leadIds": ["ld_erase_1"]])["erased"] == 0)
        // An attempt under way when the erasure landed ends dead too, without vendor text.
        var gone: [JSONValue] = []
        try await eventually {
            gone = try await harness.deliveries(leadId: "ld_erase_1")
            return gone.first?["state"] == "dead"
        }
        #expect(gone.first?["lastError"] == "lead erased")
        #expect(
            gone.first?["log"]?.arrayValue?.allSatisfy { $0["error"] == nil || $0["error"] == "lead erased" } == true)
        // An erased lead replayed later is not stored again.
        let replay = try await harness.enqueue(RouterHarness.lead("erase", index: 1))
        #expect(replay["duplicate"] == .bool(true))
        // Erased leads are not requeued; the others are.
        let requeued = try await harness.router.call("router.retryDeliveries", params: ["state": "dead"])
        #expect(requeued["requeued"] == 0)
        // The three live ones are requeued unless one is in flight at this very moment.
        let retried = try await harness.router.call("router.retryDeliveries", params: ["state": "retrying"])
        #expect((1...3).contains(retried["requeued"]?.intValue ?? 0))

        let stats = try await harness.router.call("router.stats")
        #expect(stats["deliveries"]?["dead"] == 2)
        #expect(harness.stack.log("router").contains("@example.com") == false)
        await harness.finish()
    }
}
