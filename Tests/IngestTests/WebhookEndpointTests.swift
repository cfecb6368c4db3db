import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// The webhook endpoints over real HTTP against the real leadline-ingest.
@Suite struct WebhookEndpointTests {
    @Test func signatureVectorsFromTheFixturesAreAcceptedAndTamperedOnesRefused() async throws {
        let harness = try await IngestHarness()
        let vectors = try #require(try Fixtures.json("meta/signature-vectors.json") as? [String: Any])
        #expect(vectors["appSecret"] as? String == IngestHarness.appSecret)
        for vector in try #require(vectors["vectors"] as? [[String: Any]]) {
            let body =
                try (vector["bodyFile"] as? String).map { try Fixtures.data("meta/\($0)") }
                ?? Data((vector["bodyText"] as? String ?? "").utf8)
            let signature = try #require(vector["sha256"] as? String)
            #expect(IngestHarness.sign(body) == signature)
            #expect(try await harness.postWebhook(body, signature: signature).status == 200)
            var tampered = Array(body)
            tampered[tampered.count / 2] ^= 0x01
            #expect(try await harness.postWebhook(Data(tampered), signature: signature).status == 403)
        }
        let body = try Fixtures.data("meta/webhook-leadgen-string-ids.json")
        #expect(try await harness.postWebhook(body, signature: .some(nil)).status == 403)
        #expect(try await harness.postWebhook(body, signature: "sha256=zz").status == 403)
        #expect(
            try await harness.postWebhook(body, signature: "sha1=" + String(repeating: "0", count: 40)).status == 403)

        // Refusals are audited: the audit daemon is not running, so the events wait in the spool.
        let info = try await harness.ingest.call("service.info")
        #expect((info["queues"]?["auditSpool"]?.intValue ?? 0) >= 1)
        #expect(!harness.stack.log("ingest").contains(IngestHarness.appSecret))
        await harness.finish()
    }

    /// A rotated app secret: the first webhook signed with it fails the check against the
    /// cached secret and is accepted after a forced re-read; the next ones are checked against the
    /// new secret straight away, and the old one no longer passes.
    @Test func aRotatedAppSecretTakesOverFromTheCachedOne() async throws {
        let harness = try await IngestHarness()
        func signed(_ body: Data, with secret: String) -> String {
            "sha256=" + GraphAPIDouble.appSecretProof(token: String(decoding: body, as: UTF8.self), appSecret: secret)
        }
        let first = IngestHarness.webhookBody(leadgenIDs: ["810000000000001"])
        #expect(try await harness.postWebhook(first).status == 200)
        let rotated = "a-rotated-app-secret"
        try await harness.putSecret("meta/app-secret", rotated)
        for id in ["810000000000002", "810000000000003"] {
            let body = IngestHarness.webhookBody(leadgenIDs: [id])
            #expect(try await harness.postWebhook(body, signature: signed(body, with: rotated)).status == 200)
        }
        let stale = IngestHarness.webhookBody(leadgenIDs: ["810000000000004"])
        #expect(try await harness.postWebhook(stale).status == 403)
        // Each stored change is in one of these, wherever retrieval has got to with it.
        let inbox = try await harness.stats()["inbox"]
        let stored = ["received", "ready", "handedOff", "waitingToken", "failed"].map { inbox?[$0]?.intValue ?? 0 }
        #expect(stored.reduce(0, +) == 3, "\(String(describing: inbox))")
        #expect(!harness.stack.log("ingest").contains(rotated))
        await harness.finish()
    }

    @Test func subscriptionHandshakeEchoesTheChallengeOnlyForTheRightToken() async throws {
        let harness = try await IngestHarness()
        let good = try await harness.get(
            "/webhooks/meta?hub.mode=subscribe&hub.verify_token=\(IngestHarness.verifyToken)&hub.challenge=1158201444")
        #expect(good.status == 200)
        #expect(String(decoding: good.body, as: UTF8.self) == "1158201444")
        #expect(good.header("content-type")?.hasPrefix("text/plain") == true)
        let wrong = try await harness.get(
            "/webhooks/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444")
        #expect(wrong.status == 403)
        #expect(!String(decoding: wrong.body, as: UTF8.self).contains("1158201444"))
        let noMode = try await harness.get(
            "/webhooks/meta?hub.verify_token=\(IngestHarness.verifyToken)&hub.challenge=1")
        #expect(noMode.status == 403)
        await harness.finish()
    }

    @Test func badRequestsGetTheirStatusAndChangeNothing() async throws {
        let harness = try await IngestHarness(extraConfig: "max_body_bytes = 2048")
        #expect(try await harness.postWebhook(Data("{\"object\":\"page\",".utf8)).status == 400)
        #expect(try await harness.postWebhook(Data("[1,2]".utf8)).status == 400)
        let large = IngestHarness.webhookBody(leadgenIDs: (0..<40).map { "91000000000\($0)" })
        #expect(large.count > 2048)
        #expect(try await harness.postWebhook(large).status == 413)
        #expect(try await harness.get("/healthz").status == 200)
        #expect(try await harness.get("/nowhere").status == 404)
        let stats = try await harness.stats()
        #expect(stats["leads"] == 0)
        #expect(stats["inbox"]?["received"] == 0)
        // Still serving after all of that.
        #expect(try await harness.get("/healthz").status == 200)
        await harness.finish()
    }

    @Test func slowClientsAreCutOffAndKeepAliveConnectionsServeSeveralRequests() async throws {
        let harness = try await IngestHarness(environment: ["LEADLINE_WEBHOOK_TIMEOUT_MS": "500"])
        #expect(try await harness.get("/healthz").status == 200)  // starts the daemon
        let port = try harness.stack.webhookPortReserved()

        let keepAlive = try TCPConnection(port: port)
        try keepAlive.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try keepAlive.readResponse()?.hasPrefix("HTTP/1.1 200") == true)
        try keepAlive.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try keepAlive.readResponse()?.hasPrefix("HTTP/1.1 200") == true)
        let oldStyle = try TCPConnection(port: port)
        for _ in 0..<2 {
            try oldStyle.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try oldStyle.readResponse()
            #expect(response?.hasPrefix("HTTP/1.0 200") == true)
            #expect(response?.lowercased().contains("connection: keep-alive") == true)
        }

        let slow = try TCPConnection(port: port)
        try slow.send("POST /webhooks/meta HTTP/1.1\r\nHost: x\r\n")
        let started = Date()
        #expect(slow.waitForClose(timeout: 5))
        #expect(Date().timeIntervalSince(started) < 3)
        await harness.finish()
    }
}
