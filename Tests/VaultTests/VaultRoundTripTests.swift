import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// The vault's methods through the real socket, as the other daemons and leadctl use them.
@Suite struct VaultRoundTripTests {
    @Test func putGetUpdateListDeleteRoundTrip() async throws {
        let vault = try VaultFixture()
        let first = Canary.value()
        let put = try await vault.put(
            "hubspot/main", first,
            extra: [
                "kind": "hubspot-token", "metadata": ["hasRefreshToken": "false"], "expiresAt": "2030-01-01T00:00:00Z",
            ])
        #expect(put == ["name": "hubspot/main", "version": 1])

        let got = try await vault.client.call("vault.getSecret", params: ["name": "hubspot/main"])
        #expect(Canary.digest(got["value"]?.stringValue) == Canary.digest(first))
        #expect(got["version"] == 1)
        #expect(got["kind"] == "hubspot-token")
        #expect(got["readers"] == ["ingest", "router"])
        #expect(got["expiresAt"] == "2030-01-01T00:00:00Z")
        #expect(got["metadata"] == ["hasRefreshToken": "false"])

        let second = Canary.value()
        let updated = try await vault.client.call(
            "vault.updateSecret", params: ["name": "hubspot/main", "value": .string(second), "expectedVersion": 1])
        #expect(updated == ["name": "hubspot/main", "version": 2])
        #expect(Canary.digest(try await vault.value(of: "hubspot/main")) == Canary.digest(second))
        // updateSecret keeps readers, kind, expiresAt and metadata it is not sent...
        let kept = try await vault.client.call("vault.getSecret", params: ["name": "hubspot/main"])
        #expect(kept["kind"] == "hubspot-token")
        #expect(kept["expiresAt"] == "2030-01-01T00:00:00Z")
        #expect(kept["metadata"] == ["hasRefreshToken": "false"])
        // ...and replaces the ones it is sent.
        let refreshed = try await vault.client.call(
            "vault.updateSecret",
            params: [
                "name": "hubspot/main", "value": .string(second), "expectedVersion": 2,
                "expiresAt": "2031-01-01T00:00:00Z", "metadata": ["hasRefreshToken": "true"],
            ])
        #expect(refreshed["version"] == 3)
        let replaced = try await vault.client.call("vault.getSecret", params: ["name": "hubspot/main"])
        #expect(replaced["expiresAt"] == "2031-01-01T00:00:00Z")
        #expect(replaced["metadata"] == ["hasRefreshToken": "true"])
        #expect(replaced["readers"] == ["ingest", "router"])

        // putSecret on an existing name replaces it unconditionally and bumps the version.
        let third = Canary.value()
        #expect(try await vault.put("hubspot/main", third, readers: ["router"])["version"] == 4)

        let list = try await vault.client.call("vault.listSecrets")
        let items = try #require(list["items"]?.arrayValue)
        #expect(items.count == 1)
        #expect(items.first?["value"] == nil)
        #expect(items.first?["version"] == 4)
        #expect(items.first?["readers"] == ["router"])
        #expect(items.first?["kind"] == "generic")  // absent optional fields are cleared by put
        #expect(items.first?["expiresAt"] == nil)
        let listText = String(decoding: try JSONCoding.encode(list), as: UTF8.self)
        #expect(!listText.contains(third) && !listText.contains(second) && !listText.contains(first))

        let deleted = try await vault.client.call("vault.deleteSecret", params: ["name": "hubspot/main"])
        #expect(deleted == ["name": "hubspot/main", "deleted": true])
        let gone = await vault.client.expectError("vault.getSecret", params: ["name": "hubspot/main"])
        #expect(gone?.code == -32001)
        #expect(gone?.name == "NotFound")
        let again = await vault.client.expectError("vault.deleteSecret", params: ["name": "hubspot/main"])
        #expect(again?.name == "NotFound")
        vault.stack.removeFiles()
    }

    @Test func staleExpectedVersionIsAConflictAndChangesNothing() async throws {
        let vault = try VaultFixture()
        let original = Canary.value()
        try await vault.put("pipedrive/token", original)
        let refreshed = Canary.value()
        _ = try await vault.client.call(
            "vault.updateSecret",
            params: ["name": "pipedrive/token", "value": .string(refreshed), "expectedVersion": 1])

        // A second refresher that read version 1 loses the race.
        let loser = Canary.value()
        let conflict = await vault.client.expectError(
            "vault.updateSecret", params: ["name": "pipedrive/token", "value": .string(loser), "expectedVersion": 1])
        #expect(conflict?.code == -32003)
        #expect(conflict?.name == "Conflict")
        #expect(conflict.map { !$0.detail.contains(loser) && !$0.detail.contains(refreshed) } == true)
        let current = try await vault.client.call("vault.getSecret", params: ["name": "pipedrive/token"])
        #expect(current["version"] == 2)
        #expect(Canary.digest(current["value"]?.stringValue) == Canary.digest(refreshed))

        let missing = await vault.client.expectError(
            "vault.updateSecret", params: ["name": "no/such", "value": "x", "expectedVersion": 1])
        #expect(missing?.name == "NotFound")
        vault.stack.removeFiles()
    }

    @Test func badInputIsATypedErrorAndTheVaultKeepsServing() async throws {
        let vault = try VaultFixture()
        let badName = await vault.client.expectError(
            "vault.putSecret", params: ["name": "has space", "value": "v", "readers": []])
        #expect(badName?.code == -32602)
        let badReader = await vault.client.expectError(
            "vault.putSecret", params: ["name": "ok", "value": "v", "readers": ["mallory"]])
        #expect(badReader?.code == -32602)
        let unknownParam = await vault.client.expectError("vault.getSecret", params: ["name": "ok", "version": 1])
        #expect(unknownParam?.code == -32602)
        let list = try await vault.client.call("vault.listSecrets")
        #expect(list["items"] == [])
        #expect(try await vault.client.call("service.ping")["pong"] == true)
        vault.stack.removeFiles()
    }

    @Test func statusReportsKeyCountsAndExpiries() async throws {
        let vault = try VaultFixture()
        let now = Date()
        func stamp(_ days: Double) -> JSONValue {
            .string(ISO8601DateFormatter().string(from: now.addingTimeInterval(days * 86_400)))
        }
        try await vault.put("a/expired-long-ago", Canary.value(), extra: ["expiresAt": stamp(-10)])
        try await vault.put("b/expired", Canary.value(), extra: ["expiresAt": stamp(-1)])
        try await vault.put("c/soon", Canary.value(), extra: ["expiresAt": stamp(3)])
        try await vault.put("d/sooner", Canary.value(), extra: ["expiresAt": stamp(1)])
        try await vault.put("e/later", Canary.value(), extra: ["expiresAt": stamp(30)])
        try await vault.put("f/never", Canary.value())

        let status = try await vault.client.call("vault.status")
        #expect(status["keyVersion"] == 1)
        #expect(status["secrets"] == 6)
        #expect(status["encryptionsSinceRotation"] == 6)
        #expect(status["lastRotationAt"] == nil)
        #expect(status["expired"]?.arrayValue?.map { $0["name"] } == ["a/expired-long-ago", "b/expired"])
        #expect(status["expiringSoon"]?.arrayValue?.map { $0["name"] } == ["d/sooner", "c/soon"])
        let wide = try await vault.client.call("vault.status", params: ["expiringWithinDays": 60])
        #expect(wide["expiringSoon"]?.arrayValue?.count == 3)
        vault.stack.removeFiles()
    }
}
