import Foundation
import LeadlineHTTP
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport

/// One test's world: the Graph API double in-process, the vault, and leadline-ingest under real
/// socket activation with its webhook listener, configured against the double.
final class IngestHarness: Sendable {
    static let appSecret = "test-app-secret-0123456789abcdef"
    static let verifyToken = "verify-token-for-tests"
    static let pageID = "153125381133"
    static let pageToken = "EAAB-test-page-token"

    let stack: TestStack
    let graph: GraphAPIDouble
    let http = HTTPClient()

    var ingest: RecordingClient { stack.client("ingest") }
    var vaultClient: RecordingClient { stack.client("vault") }

    /// - pageToken: stored as meta/page/153125381133 when not nil.
    init(
        pageToken: String? = IngestHarness.pageToken, reconcileIntervalSeconds: Int = 0, extraConfig: String = "",
        environment: [String: String] = [:],
        startIngest: Bool = true
    ) async throws {
        graph = try await GraphAPIDouble(appSecret: Self.appSecret)
        stack = try TestStack(
            extraConfig: """
                [meta]
                graph_base_url = "\(graph.baseURL)"

                [ingest]
                reconcile_interval_seconds = \(reconcileIntervalSeconds)
                \(extraConfig)
                """, environment: environment)
        try stack.start("vault")
        try await putSecret("meta/app-secret", Self.appSecret)
        try await putSecret("meta/verify-token", Self.verifyToken)
        if let pageToken { try await putSecret("meta/page/\(Self.pageID)", pageToken) }
        if startIngest { try await launchIngest() }
    }

    /// Starts (or, after a crash, restarts) ingest under socket activation with its webhook port.
    func launchIngest() async throws {
        try stack.start("ingest", webhook: true)
    }

    /// kill -9, then start again as systemd's Restart= would.
    func crashAndRestartIngest() async throws {
        try stack.stop("ingest", signal: SIGKILL)
        try await launchIngest()
    }

    func putSecret(_ name: String, _ value: String) async throws {
        _ = try await vaultClient.call(
            "vault.putSecret", params: ["name": .string(name), "value": .string(value), "readers": ["ingest"]])
    }

    var webhookURL: String {
        get throws { "http://127.0.0.1:\(try stack.webhookPortReserved())/webhooks/meta" }
    }

    /// POSTs a webhook body, signed with the app secret unless a signature is given.
    func postWebhook(_ body: Data, signature: String?? = nil) async throws -> HTTPResponse {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        switch signature {
        case .none: headers.append(("X-Hub-Signature-256", Self.sign(body)))
        case .some(.some(let given)): headers.append(("X-Hub-Signature-256", given))
        case .some(.none): break
        }
        return try await http.send(HTTPRequest(method: "POST", url: try webhookURL, headers: headers, body: body))
    }

    func get(_ pathAndQuery: String) async throws -> HTTPResponse {
        try await http.send(HTTPRequest(url: "http://127.0.0.1:\(try stack.webhookPortReserved())\(pathAndQuery)"))
    }

    static func sign(_ body: Data) -> String {
        "sha256=" + GraphAPIDouble.appSecretProof(token: String(decoding: body, as: UTF8.self), appSecret: appSecret)
    }

    /// A webhook body with one leadgen change per id, all on the test page.
    static func webhookBody(leadgenIDs: [String], formID: String = "555555555555", createdTime: Int = 1_763_900_000)
        -> Data
    {
        let changes = leadgenIDs.map { id in
            """
            {"field":"leadgen","value":{"leadgen_id":"\(id)","page_id":"\(pageID)","form_id":"\(formID)","ad_id":"666666666666","adgroup_id":"676767676767","created_time":\(createdTime)}}
            """
        }
        return Data(
            """
            {"object":"page","entry":[{"id":"\(pageID)","time":\(createdTime),"changes":[\(changes.joined(separator: ","))]}]}
            """.utf8)
    }

    func stats() async throws -> JSONValue {
        try await ingest.call("ingest.stats")
    }

    func inbox(_ state: String) async throws -> Int64 {
        try await stats()["inbox"]?[state]?.intValue ?? -1
    }

    /// Waits until `count` leads are stored (fetched and normalized).
    func waitForLeads(_ count: Int64, timeout: Double = 20) async throws {
        try await eventually(timeout: timeout) { try await self.stats()["leads"]?.intValue == count }
    }

    func lead(externalID: String) async throws -> JSONValue? {
        var cursor: String?
        repeat {
            var params: [String: JSONValue] = ["limit": 1000]
            if let cursor { params["cursor"] = .string(cursor) }
            let page = try await ingest.call("ingest.listLeads", params: .object(params))
            if let lead = page["items"]?.arrayValue?.first(where: {
                $0["source"]?["externalId"]?.stringValue == externalID
            }) {
                return lead
            }
            cursor = page["nextCursor"]?.stringValue
        } while cursor != nil
        return nil
    }

    func finish() async {
        stack.removeFiles()
        await graph.shutdown()
    }
}
