import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// ingest.* over the real socket.
@Suite struct IngestMethodTests {
    static func submission(email: String, name: String = "Max Muster", phone: String? = nil) -> JSONValue {
        var fields: [String: JSONValue] = ["email": .string(email), "fullName": .string(name)]
        if let phone { fields["phone"] = .string(phone) }
        fields["country"] = "DE"
        return ["source": ["platform": "api"], "fields": .object(fields), "custom": ["budget": " 10k "]]
    }

    @Test func submittedLeadsAreNormalizedStoredOnceAndReadBack() async throws {
        let harness = try await IngestHarness()
        let ingest = harness.ingest
        let first = try await ingest.call(
            "ingest.submitLead",
            params: [
                "lead": Self.submission(email: "max@example.com", phone: "0151 2345 6789"), "idempotencyKey": "crm-1",
            ])
        #expect(first["duplicate"] == false)
        let id = try #require(first["id"]?.stringValue)
        let again = try await ingest.call(
            "ingest.submitLead",
            params: ["lead": Self.submission(email: "other@example.com"), "idempotencyKey": "crm-1"])
        #expect(again == ["id": .string(id), "duplicate": true])

        let lead = try await ingest.call("ingest.getLead", params: ["id": .string(id)])
        #expect(lead["fields"]?["email"] == "max@example.com")
        #expect(lead["fields"]?["phone"] == "+4915123456789")
        #expect(lead["fields"]?["firstName"] == "Max")
        #expect(lead["fields"]?["lastName"] == "Muster")
        #expect(lead["custom"] == ["budget": "10k"])
        #expect(lead["source"] == ["platform": "api", "isOrganic": false])
        #expect(lead["raw"] == [:])
        #expect(lead["createdAt"] == lead["receivedAt"])

        let invalid = await ingest.expectError(
            "ingest.submitLead", params: ["lead": Self.submission(email: "not-an@address"), "idempotencyKey": "crm-2"])
        #expect(invalid?.name == "ValidationFailed")
        #expect(invalid?.detail.contains("address") == true)
        #expect(invalid?.detail.contains("not-an@address") == false)
        let metaWithoutIDs = await ingest.expectError(
            "ingest.submitLead",
            params: [
                "lead": ["source": ["platform": "facebook"], "fields": ["email": "a@b.de"]], "idempotencyKey": "crm-3",
            ])
        // The schema (lead.schema.json's allOf) is the gate: Meta leads must name their ids.
        #expect(metaWithoutIDs?.name == "InvalidParams")
        let missing = await ingest.expectError("ingest.getLead", params: ["id": "ld_unknown"])
        #expect(missing?.name == "NotFound")
        #expect(try await harness.stats()["leads"] == 1)
        await harness.finish()
    }

    @Test func listLeadsPagesNewestFirstAndFindLeadsMatchesNormalizedContacts() async throws {
        let harness = try await IngestHarness()
        let ingest = harness.ingest
        var ids: [String] = []
        for index in 0..<5 {
            let reply = try await ingest.call(
                "ingest.submitLead",
                params: [
                    "lead": Self.submission(email: "person\(index)@example.com", phone: "030 1234567\(index)"),
                    "idempotencyKey": .string("key-\(index)"),
                ])
            ids.append(try #require(reply["id"]?.stringValue))
        }
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            var params: [String: JSONValue] = ["limit": 2]
            if let cursor { params["cursor"] = .string(cursor) }
            let page = try await ingest.call("ingest.listLeads", params: .object(params))
            seen += page["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            cursor = page["nextCursor"]?.stringValue
            pages += 1
        } while cursor != nil
        #expect(pages == 3)
        #expect(seen == ids.reversed())
        #expect(await ingest.expectError("ingest.listLeads", params: ["cursor": "bm9wZQ"])?.name == "InvalidParams")
        let future = try await ingest.call("ingest.listLeads", params: ["since": "2999-01-01T00:00:00Z"])
        #expect(future["items"] == [])

        let byEmail = try await ingest.call("ingest.findLeads", params: ["email": " Person3@EXAMPLE.com"])
        #expect(byEmail["items"]?.arrayValue?.map { $0["id"] } == [.string(ids[3])])
        let byPhone = try await ingest.call("ingest.findLeads", params: ["phone": "+49 (30) 1234 5671"])
        #expect(byPhone["items"]?.arrayValue?.map { $0["id"] } == [.string(ids[1])])
        let either = try await ingest.call(
            "ingest.findLeads", params: ["email": "person0@example.com", "phone": "+493012345672"])
        #expect(either["items"]?.arrayValue?.count == 2)
        await harness.finish()
    }

    @Test func erasedLeadsAreGoneForGoodAndStayGoneWhenMetaRetries() async throws {
        let harness = try await IngestHarness()
        let ingest = harness.ingest
        let body = try Fixtures.data("meta/webhook-leadgen-string-ids.json")
        #expect(try await harness.postWebhook(body).status == 200)
        try await harness.waitForLeads(1)
        let lead = try #require(try await harness.lead(externalID: "444444444444444"))
        let id = try #require(lead["id"]?.stringValue)

        let erased = try await ingest.call("ingest.eraseLeads", params: ["ids": [.string(id), "ld_never"]])
        #expect(erased == ["erased": 1, "notFound": ["ld_never"]])
        #expect(await ingest.expectError("ingest.getLead", params: ["id": .string(id)])?.name == "NotFound")
        #expect(try await ingest.call("ingest.findLeads", params: ["email": "jane.doe@example.com"])["items"] == [])
        let again = try await ingest.call("ingest.eraseLeads", params: ["ids": [.string(id)]])
        #expect(again == ["erased": 0, "notFound": [.string(id)]])

        // Meta retrying the same webhook must not bring the erased lead back.
        #expect(try await harness.postWebhook(body).status == 200)
        try await Task.sleep(for: .seconds(1))
        #expect(try await harness.stats()["leads"] == 0)
        #expect(harness.graph.leadRequests("444444444444444").count == 1)
        let database = try Data(contentsOf: URL(fileURLWithPath: harness.stack.databasePath("ingest")))
        #expect(database.range(of: Data("jane.doe@example.com".utf8)) == nil)
        await harness.finish()
    }

    @Test func reconciliationReadsEveryPageOfAFormAndStoresOnlyWhatWasMissed() async throws {
        let harness = try await IngestHarness()
        // A first webhook makes the form and its page known.
        #expect(try await harness.postWebhook(try Fixtures.data("meta/webhook-leadgen-string-ids.json")).status == 200)
        try await harness.waitForLeads(1)

        let first = try await harness.ingest.call("ingest.reconcile", params: ["formId": "555555555555"])
        #expect(first == ["forms": 1, "fetched": 3, "inserted": 3, "pages": 2])
        #expect(try await harness.stats()["leads"] == 4)
        let backfilled = try #require(try await harness.lead(externalID: "900000000000012"))
        #expect(backfilled["fields"]?["email"] == "backfill3@example.com")
        #expect(backfilled["source"]?["pageId"] == .string(IngestHarness.pageID))

        // The next pass asks only for leads newer than the last one seen, and stores nothing twice.
        let second = try await harness.ingest.call("ingest.reconcile", params: [:])
        #expect(second["inserted"] == 0)
        let formRequests = harness.graph.requests.filter { $0.path.hasSuffix("/555555555555/leads") }
        #expect(formRequests.first?.query["filtering"]?.contains("1763899990") == true)
        #expect(formRequests.last?.query["filtering"]?.contains("1795424520") == true)
        #expect(try await harness.stats()["leads"] == 4)
        #expect(try await harness.stats()["lastReconcileAt"] != nil)

        let unknown = try await harness.ingest.call("ingest.reconcile", params: ["formId": "123"])
        #expect(unknown == ["forms": 0, "fetched": 0, "inserted": 0, "pages": 0])
        await harness.finish()
    }

    @Test func periodicReconciliationRunsOnItsOwnAndDoesNotHoldUpShutdown() async throws {
        let harness = try await IngestHarness(reconcileIntervalSeconds: 1)
        #expect(try await harness.postWebhook(try Fixtures.data("meta/webhook-leadgen-string-ids.json")).status == 200)
        try await harness.waitForLeads(4, timeout: 20)
        #expect(try await harness.stats()["lastReconcileAt"] != nil)

        let stopping = Date()
        try harness.stack.stop("ingest")
        #expect(Date().timeIntervalSince(stopping) < 5)
        #expect(harness.stack.process("ingest") == nil)
        await harness.finish()
    }
}
