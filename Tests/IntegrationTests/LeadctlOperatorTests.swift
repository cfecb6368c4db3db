import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// leadctl's Meta connection and privacy operations against the real daemons and the Graph double.
@Suite(.serialized) struct LeadctlOperatorTests {
    @Test func metaConnectStoresPageTokensAndSubscribesThenDisconnectRevokes() async throws {
        let appSecret = "app-secret-" + UUID().uuidString.prefix(8)
        let graph = try await GraphAPIDouble(appSecret: appSecret)
        let stack = try TestStack(
            extraConfig: "[meta]\napp_id = \"1234567890\"\ngraph_base_url = \"\(graph.baseURL)\"\n")
        try stack.start("vault")
        try stack.start("audit")
        let vault = stack.client("vault")
        _ = try await vault.call(
            "vault.putSecret", params: ["name": "meta/app-secret", "value": .string(appSecret), "readers": ["ingest"]])

        let connect = try stack.leadctl(["meta", "connect"], input: "short-lived-user-token\n")
        #expect(connect.exitCode == 0, "\(connect.stderr)")
        #expect(connect.stdout.contains("153125381133"))
        #expect(connect.stdout.contains("subscribed"))
        #expect(graph.subscriptions["153125381133"] == ["leadgen"])
        let stored = try await vault.call("vault.getSecret", params: ["name": "meta/page/153125381133"])
        #expect(stored["value"] == "EAAB-test-page-token")
        #expect(stored["readers"] == ["ingest"])
        #expect(!connect.stdout.contains("EAAB-test-page-token") && !connect.stderr.contains("short-lived-user-token"))
        // Every token-bearing call carried a valid appsecret_proof (the double refuses others).
        #expect(graph.requests.contains { $0.path.hasSuffix("/me/accounts") && $0.query["appsecret_proof"] != nil })

        let pages = try stack.leadctl(["meta", "pages", "--json"])
        #expect(
            ((pages.json as? [String: Any])?["pages"] as? [[String: Any]])?.first?["pageId"] as? String
                == "153125381133")

        let disconnect = try stack.leadctl(["meta", "disconnect", "153125381133"])
        #expect(disconnect.exitCode == 0, "\(disconnect.stderr)")
        #expect(graph.subscriptions["153125381133"] == nil)
        #expect(graph.revokedTokens.contains("EAAB-test-page-token"))
        #expect(
            await vault.expectError("vault.getSecret", params: ["name": "meta/page/153125381133"])?.name == "NotFound")

        let noAppID = try TestStack(extraConfig: "[meta]\ngraph_base_url = \"\(graph.baseURL)\"\n")
        let refused = try noAppID.leadctl(["meta", "connect"], input: "token\n")
        #expect(refused.exitCode == 2)
        #expect(refused.stderr.contains("app_id"))
        noAppID.removeFiles()
        await graph.shutdown()
        stack.removeFiles()
    }

    @Test func privacyExportAndEraseAcrossIngestRouterAndAudit() async throws {
        let stack = try TestStack()
        for service in ["vault", "audit", "router"] { try stack.start(service) }
        try stack.start("ingest", webhook: true)
        let ingest = stack.client("ingest")
        let email = "erase.me.\(UUID().uuidString.prefix(6).lowercased())@example.com"
        let keep = "keep.me.\(UUID().uuidString.prefix(6).lowercased())@example.com"
        func submit(_ address: String, key: String) async throws -> String {
            let lead: JSONValue = [
                "source": ["platform": "api"],
                "fields": [
                    "email": .string(address), "firstName": "Ada", "lastName": "Lovelace", "phone": "+14155550123",
                ],
            ]
            let answer = try await ingest.call(
                "ingest.submitLead", params: ["lead": lead, "idempotencyKey": .string(key)])
            return try #require(answer["id"]?.stringValue)
        }
        let erased = try await submit(email, key: "k1")
        let kept = try await submit(keep, key: "k2")

        let export = try stack.leadctl(["privacy", "export", "--email", email])
        #expect(export.exitCode == 0, "\(export.stderr)")
        let document = try #require(export.json as? [String: Any])
        #expect(document["leadIds"] as? [String] == [erased])
        #expect(
            ((document["leads"] as? [[String: Any]])?.first?["fields"] as? [String: Any])?["email"] as? String == email)

        let erase = try stack.leadctl(["privacy", "erase", "--email", email, "--json"])
        #expect(erase.exitCode == 0, "\(erase.stderr)")
        let receipt = try #require(erase.json as? [String: Any])
        #expect((receipt["receipt"] as? String)?.isEmpty == false)
        #expect(receipt["ingestErased"] as? Int == 1)
        // Both daemons' erase events carry the receipt, so it can be traced in the audit log.
        let receiptID = try #require(receipt["receipt"] as? String)
        let audit = stack.client("audit")
        try await eventually(timeout: 20) {
            let events = try await audit.call("audit.query", params: ["subject": .string(erased)])["items"]?.arrayValue
            let withReceipt = events?.filter { $0["details"]?["receipt"] == .string(receiptID) }
            return Set(withReceipt?.compactMap { $0["action"]?.stringValue } ?? [])
                == ["router.eraseLeads", "ingest.eraseLead"]
        }

        // Idempotent: a second run finds nothing left and still succeeds.
        let again = try stack.leadctl(["privacy", "erase", "--email", email, "--json"])
        #expect(again.exitCode == 0)
        #expect((again.json as? [String: Any])?["leadIds"] as? [String] == [])
        #expect(await ingest.expectError("ingest.getLead", params: ["id": .string(erased)])?.name == "NotFound")
        #expect(
            try await ingest.call("ingest.getLead", params: ["id": .string(kept)])["fields"]?["email"] == .string(keep))

        // The erased address is in no state file of any daemon (databases, WALs, spools).
        for service in ["ingest", "router", "vault", "audit"] { try stack.stop(service) }
        for file in (FileManager.default.enumerator(atPath: stack.stateDir)?.allObjects as? [String]) ?? [] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: "\(stack.stateDir)/\(file)"))) ?? Data()
            #expect(bytes.range(of: Data(email.utf8)) == nil, "\(file) still holds the erased email")
        }
        // The audit chain still verifies after the erasure.
        try stack.start("audit")
        #expect(try await stack.client("audit").call("audit.verify")["ok"] == true)
        stack.removeFiles()
    }
}
