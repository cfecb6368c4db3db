import Foundation
import GRDB
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// A real leadline-router under socket activation with a vault stand-in beside it, retry and
/// timeout clocks shrunk so faults play out in milliseconds.
final class RouterHarness: Sendable {
    let stack: TestStack
    /// The vault stand-in, or nil when the real leadline-vault runs.
    let standIn: VaultStandIn?
    let router: RecordingClient

    var vault: VaultStandIn { standIn! }

    static let environment = [
        "LEADLINE_ROUTER_BACKOFF_BASE_MS": "40",
        "LEADLINE_ROUTER_CIRCUIT_COOLDOWN_MS": "250",
        // Generous for loopback: the doubles live in the test process, whose few threads other
        // tests sometimes block (TestStack's waits poll with usleep); only `beyondTimeout` answers
        // are meant to time out.
        "LEADLINE_ROUTER_HTTP_TIMEOUT_MS": "5000",
    ]
    /// A delay the router's HTTP timeout gives up on.
    static let beyondTimeout: Duration = .milliseconds(7000)

    init(extraConfig: String = "", environment: [String: String] = [:], realVault: Bool = true) async throws {
        stack = try TestStack(extraConfig: extraConfig, environment: Self.environment.merging(environment) { $1 })
        if realVault {
            standIn = nil
            try stack.start("vault")
        } else {
            standIn = try await VaultStandIn(socketPath: stack.socketPath("vault"))
        }
        try stack.start("router")
        router = stack.client("router")
        // systemd-socket-activate creates the socket file at bind() and listens a moment later; on
        // a loaded machine a first connect can fall in between and be refused. Wait until it serves.
        let router = self.router
        try await eventually(timeout: 10) { try await router.call("service.ping")["pong"] == .bool(true) }
    }

    /// Stores a credential the router may read: in the real vault (admin putSecret, reader
    /// router) or in the stand-in.
    func putSecret(_ name: String, _ value: String) async throws {
        if let standIn {
            standIn.put(name, value)
            return
        }
        let stored = try await stack.client("vault").call(
            "vault.putSecret", params: ["name": .string(name), "value": .string(value), "readers": ["router"]])
        #expect(stored["name"]?.stringValue == name)
    }

    /// The credential as the vault now holds it (the test user holds the router role, a reader).
    func storedSecret(_ name: String) async throws -> (value: String, version: Int64, expiresAt: String?) {
        if let standIn {
            let secret = try #require(standIn.secret(name))
            return (secret.value, Int64(secret.version), secret.expiresAt)
        }
        let secret = try await stack.client("vault").call("vault.getSecret", params: ["name": .string(name)])
        return (secret["value"]?.stringValue ?? "", secret["version"]?.intValue ?? 0, secret["expiresAt"]?.stringValue)
    }

    func finish() async {
        stack.stopAll()
        await standIn?.shutdown()
        stack.removeFiles()
    }

    @discardableResult
    func putDestination(
        _ id: String, kind: String, baseUrl: String? = nil, credential: String,
        options: [String: JSONValue] = [:]
    ) async throws -> JSONValue {
        var params: [String: JSONValue] = ["id": .string(id), "kind": .string(kind), "credential": .string(credential)]
        if let baseUrl { params["baseUrl"] = .string(baseUrl) }
        if !options.isEmpty { params["options"] = .object(options) }
        return try await router.call("router.putDestination", params: .object(params))
    }

    @discardableResult
    func putRoute(_ id: String, destination: String, fieldMap: [String: JSONValue], match: [String: JSONValue] = [:])
        async throws -> JSONValue
    {
        try await router.call(
            "router.putRoute",
            params: [
                "id": .string(id), "match": .object(match), "destinationId": .string(destination),
                "fieldMap": .object(fieldMap),
            ])
    }

    func enqueue(_ lead: JSONValue) async throws -> JSONValue {
        try await router.call("router.enqueueLead", params: ["lead": lead])
    }

    func deliveries(state: String? = nil, leadId: String? = nil) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        var cursor: String?
        repeat {
            var params: [String: JSONValue] = ["limit": 1000]
            if let state { params["state"] = .string(state) }
            if let leadId { params["leadId"] = .string(leadId) }
            if let cursor { params["cursor"] = .string(cursor) }
            let page = try await router.call("router.listDeliveries", params: .object(params))
            items += page["items"]?.arrayValue ?? []
            cursor = page["nextCursor"]?.stringValue
        } while cursor != nil
        return items
    }

    /// Waits until every delivery is delivered or dead; returns them.
    func settled(expected: Int, timeout: Double = 20) async throws -> [JSONValue] {
        var last: [JSONValue] = []
        try await eventually(timeout: timeout) {
            last = try await deliveries()
            return last.count == expected
                && last.allSatisfy { ["delivered", "dead"].contains($0["state"]?.stringValue ?? "") }
        }
        return last
    }

    /// Whether the router's database still holds a lead's payload (personal data).
    func holdsPayload(of leadId: String) throws -> Bool {
        let queue = try DatabaseQueue(path: stack.databasePath("router"))
        return try queue.read { db in
            try Bool.fetchOne(db, sql: "SELECT payload IS NOT NULL FROM leads WHERE id = ?", arguments: [leadId])
                ?? false
        }
    }

    /// The audit events the router spooled (no audit daemon runs in these tests).
    func spooledAuditEvents() throws -> [String] {
        let queue = try DatabaseQueue(path: stack.databasePath("router"))
        return try queue.read { db in try String.fetchAll(db, sql: "SELECT event FROM audit_spool ORDER BY id") }
    }

    static func lead(
        _ tag: String, index: Int, email: String? = nil, formId: String = "555555555555",
        company: String? = "Acme GmbH"
    ) -> JSONValue {
        var fields: [String: JSONValue] = [
            "email": .string(email ?? "lead\(index).\(tag.lowercased())@example.com"),
            "firstName": .string("Jane\(index)"), "lastName": .string("Doe"), "phone": "+4915123456789",
        ]
        if let company { fields["company"] = .string(company) }
        return [
            "id": .string("ld_\(tag)_\(index)"),
            "source": [
                "platform": "facebook", "pageId": "153125381133", "formId": .string(formId), "adId": "666666666666",
                "externalId": .string("4444\(index)"), "isOrganic": false,
            ],
            "createdAt": "2026-11-23T10:13:10Z", "receivedAt": "2026-11-23T10:13:11.204Z",
            "fields": .object(fields), "custom": ["which_plan_fits_you?": "Business"],
            "consents": [["key": "newsletter", "checked": false]], "raw": [:],
        ]
    }
}

extension JSONValue {
    var string: String { stringValue ?? "" }
}
