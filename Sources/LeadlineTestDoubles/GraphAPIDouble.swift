import Crypto
import Foundation
import NIOConcurrencyHelpers

/// The Meta Graph API on loopback, answering from ../shared/fixtures/meta the way Meta does:
/// lead objects (only the fields asked for), /{form-id}/leads with cursor paging and time
/// filtering, token and appsecret_proof checks, the error bodies of graph-errors.json with their
/// HTTP status and usage headers, the token exchange, /me/accounts and page subscriptions.
/// Tests switch failures on per call (`failNext`) or until cleared (`setFailure`).
public final class GraphAPIDouble: Sendable {
    /// Failures a test can switch on; the raw values name the cases of graph-errors.json.
    public enum Failure: String, Sendable, CaseIterable {
        case tokenExpired = "token_expired"
        case tokenInvalid = "token_invalid"
        case passwordChanged = "password_changed"
        case appRateLimit = "app_rate_limit"
        case userRateLimit = "user_rate_limit"
        case customRateLimit = "custom_rate_limit"
        case leadgenRateLimit = "leadgen_buc_limit"
        case temporary
        case permissionDenied = "permission_denied"
        case leadsAccessRevoked = "leads_access_revoked"
        /// Not a Graph error body: an HTML 503 from the edge, as during an outage.
        case outage
        /// The connection closes without an answer.
        case reset
    }

    public struct Page: Sendable {
        public var id: String
        public var name: String
        public var accessToken: String
        public init(id: String, name: String, accessToken: String) {
            self.id = id
            self.name = name
            self.accessToken = accessToken
        }
    }

    private struct State {
        var leads: [String: Data] = [:]
        /// Each lead's top-level keys: a request whose fields cover them all gets the stored bytes.
        var leadKeys: [String: Set<String>] = [:]
        var leadOrder: [String] = []
        var pendingFailures: [Failure] = []
        var persistentFailure: Failure?
        var validTokens: Set<String>?
        var subscriptions: [String: [String]] = [:]
        var revokedTokens: Set<String> = []
    }

    public static let fixtureForm = "555555555555"
    public let appSecret: String?
    public let pages: [Page]
    private let state = NIOLockedValueBox(State())
    private let errorBodies: [String: (status: Int, body: Data)]
    private let usageHeaders: [String: String]
    private let formPages: [Data]
    private let longLivedToken: Data
    private let server: HTTPTestServer
    /// `make run`'s double answers any leadgen id with a synthetic lead, so `leadctl test-lead`
    /// (which sends a fresh id each time) travels end to end. Tests keep it off.
    private let synthesizeUnknownLeads: Bool

    /// - appSecret: when set, every call must carry a matching appsecret_proof.
    /// - validTokens: when set, other access tokens get error 190; nil accepts any token.
    public init(
        port: Int = 0, appSecret: String? = nil, validTokens: Set<String>? = nil,
        pages: [Page] = [Page(id: "153125381133", name: "Leadline Test Page", accessToken: "EAAB-test-page-token")],
        synthesizeUnknownLeads: Bool = false
    ) async throws {
        self.synthesizeUnknownLeads = synthesizeUnknownLeads
        self.appSecret = appSecret
        self.pages = pages
        var errors: [String: (Int, Data)] = [:]
        let errorFixture = try Fixtures.json("meta/graph-errors.json") as? [String: Any] ?? [:]
        for (name, value) in errorFixture {
            guard let entry = value as? [String: Any], let status = entry["httpStatus"] as? Int,
                let body = entry["body"]
            else { continue }
            errors[name] = (status, try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        }
        errorBodies = errors
        usageHeaders = try Fixtures.json("meta/graph-usage-headers.json") as? [String: String] ?? [:]
        formPages = [
            try Fixtures.data("meta/graph-form-leads-page1.json"),
            try Fixtures.data("meta/graph-form-leads-page2.json"),
        ]
        longLivedToken = try Fixtures.data("meta/graph-long-lived-token.json")
        server = try await HTTPTestServer(port: port)
        state.withLockedValue { $0.validTokens = validTokens }
        for name in ["graph-lead-facebook", "graph-lead-instagram", "graph-lead-organic"] {
            try addLead(Fixtures.data("meta/\(name).json"))
        }
        // Answers without awaiting: on the event loop, no task per request, so the webhook bench
        // (whose retrievals all land here) measures ingest rather than the stand-in for Meta.
        server.respondImmediately { [weak self] request in
            guard let self else { return .reset }
            return self.answer(request)
        }
    }
    public var baseURL: String { server.baseURL }
    public var port: Int { server.port }
    public var requests: [RecordedRequest] { server.requests }
    public func clearRequests() { server.clearRequests() }
    public func shutdown() async { await server.shutdown() }

    /// Requests for one lead object (GET /vX/{id}).
    public func leadRequests(_ leadgenID: String) -> [RecordedRequest] {
        requests.filter { Self.strippingVersion($0.path) == "/\(leadgenID)" }
    }

    /// Adds (or replaces) a lead object, as JSON with at least `id`.
    public func addLead(_ json: Data) throws {
        guard let object = try JSONSerialization.jsonObject(with: json) as? [String: Any],
            let id = object["id"] as? String
        else {
            throw GraphDoubleError("a lead needs a string id")
        }
        store(id: id, json: Self.serialize(object), keys: Set(object.keys))
    }

    /// `json` as Graph answers it: keys sorted, no spaces.
    private func store(id: String, json: Data, keys: Set<String>) {
        state.withLockedValue { state in
            if state.leads[id] == nil { state.leadOrder.append(id) }
            state.leads[id] = json
            state.leadKeys[id] = keys
        }
    }

    /// Graph's own form, 2026-11-23T10:13:10+0000. Built on the ISO 8601 style: a DateFormatter
    /// per lead (an ICU formatter each) took the CPU the benchmarks meant for the daemons.
    static func graphTimestamp(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle()
        style.timeZone = .gmt
        return String(date.formatted(style).dropLast()) + "+0000"
    }

    /// A plain Facebook lead with an email and a name, for bulk tests.
    public func addSyntheticLead(
        id: String, formID: String = "555555555555", createdTime: String = "2026-11-23T10:00:00+0000"
    )
        throws
    {
        // Written out in Graph's form (what serialize makes of it) rather than through
        // JSONSerialization: the webhook benchmark synthesizes a lead per request, and Foundation's
        // writer took a quarter of a core that the benchmark means for the daemon.
        let json = """
            {"ad_id":"666666666666","adset_id":"676767676767","campaign_id":"686868686868",\
            "created_time":\(Self.quoted(createdTime)),"field_data":[{"name":"email","values":\
            [\(Self.quoted(" Lead.\(id)@Example.com "))]},{"name":"full_name","values":[\(Self.quoted("Lead \(id)"))]}],\
            "form_id":\(Self.quoted(formID)),"id":\(Self.quoted(id)),"is_organic":false,"platform":"fb"}
            """
        store(id: id, json: Data(json.utf8), keys: Self.syntheticLeadKeys)
    }

    static let syntheticLeadKeys: Set<String> = [
        "ad_id", "adset_id", "campaign_id", "created_time", "field_data", "form_id", "id", "is_organic", "platform",
    ]

    /// A JSON string literal, escaped as JSONSerialization escapes it.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/": out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The next `times` Graph calls (lead, form leads, accounts) fail this way.
    public func failNext(_ failure: Failure, times: Int = 1) {
        state.withLockedValue { $0.pendingFailures += Array(repeating: failure, count: times) }
    }

    /// Every Graph call fails this way until cleared with nil.
    public func setFailure(_ failure: Failure?) {
        state.withLockedValue { $0.persistentFailure = failure }
    }

    public func setValidTokens(_ tokens: Set<String>?) {
        state.withLockedValue { $0.validTokens = tokens }
    }

    /// Tokens revoked with DELETE /me/permissions.
    public var revokedTokens: Set<String> { state.withLockedValue { $0.revokedTokens } }

    /// Page id -> subscribed fields, as POST/DELETE /{page-id}/subscribed_apps left them.
    public var subscriptions: [String: [String]] { state.withLockedValue { $0.subscriptions } }

    public static func appSecretProof(token: String, appSecret: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(token.utf8), using: SymmetricKey(data: Data(appSecret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    // MARK: answering

    private func answer(_ request: RecordedRequest) -> CannedResponse {
        let path = Self.strippingVersion(request.path)
        if path == "/oauth/access_token" { return exchangeToken(request) }
        let token = Self.accessToken(of: request)
        if let failure = takeFailure() { return respond(failure) }
        guard let token else {
            return graphError(
                400, code: 104, type: "OAuthException", message: "An access token is required to request this resource."
            )
        }
        if let valid = state.withLockedValue({ $0.validTokens }), !valid.contains(token) {
            return respond(.tokenInvalid)
        }
        if let appSecret, request.query["appsecret_proof"] != Self.appSecretProof(token: token, appSecret: appSecret) {
            return graphError(
                400, code: 100, type: "GraphMethodException",
                message: "Invalid appsecret_proof provided in the API argument")
        }
        let parts = path.split(separator: "/").map(String.init)
        switch (request.method, parts.count, parts.last) {
        case ("GET", 2, "accounts") where parts[0] == "me": return accounts()
        case ("DELETE", 2, "permissions") where parts[0] == "me":
            // Revokes the app's access for the token's user, as Meta does on disconnect.
            _ = state.withLockedValue { $0.revokedTokens.insert(token) }
            return ok(Data("{\"success\":true}".utf8))
        case ("GET", 2, "leads"): return formLeads(formID: parts[0], request: request)
        case (_, 2, "subscribed_apps"): return subscribedApps(pageID: parts[0], request: request)
        case ("GET", 1, _): return leadObject(parts[0], fields: request.query["fields"])
        default:
            return graphError(
                400, code: 100, type: "GraphMethodException",
                message: "Unsupported \(request.method.lowercased()) request.")
        }
    }

    private func takeFailure() -> Failure? {
        state.withLockedValue { state in
            if !state.pendingFailures.isEmpty { return state.pendingFailures.removeFirst() }
            return state.persistentFailure
        }
    }

    private func respond(_ failure: Failure) -> CannedResponse {
        switch failure {
        case .reset: return .reset
        case .outage:
            return CannedResponse(
                status: 503, headers: [("Content-Type", "text/html")],
                body: Data("<html><body>Service Unavailable</body></html>".utf8))
        default:
            guard let entry = errorBodies[failure.rawValue] else {
                return graphError(500, code: 2, type: "OAuthException", message: "fixture missing")
            }
            var headers = [
                ("Content-Type", "application/json; charset=UTF-8"),
                ("WWW-Authenticate", "OAuth \"Facebook Platform\""),
            ]
            switch failure {
            case .leadgenRateLimit:
                if let usage = usageHeaders["X-Business-Use-Case-Usage"] {
                    headers.append(("X-Business-Use-Case-Usage", usage))
                }
            case .appRateLimit, .userRateLimit, .customRateLimit:
                if let usage = usageHeaders["X-App-Usage"] { headers.append(("X-App-Usage", usage)) }
            default: break
            }
            return CannedResponse(status: entry.status, headers: headers, body: entry.body)
        }
    }

    private func ok(_ body: Data) -> CannedResponse {
        var headers = [("Content-Type", "application/json; charset=UTF-8")]
        if let usage = usageHeaders["X-App-Usage"] { headers.append(("X-App-Usage", usage)) }
        return CannedResponse(status: 200, headers: headers, body: body)
    }

    private func graphError(_ status: Int, code: Int, type: String, message: String) -> CannedResponse {
        .json(status, object: ["error": ["message": message, "type": type, "code": code, "fbtrace_id": "AbCdEfGhIjK"]])
    }

    private func leadObject(_ id: String, fields: String?) -> CannedResponse {
        if synthesizeUnknownLeads, state.withLockedValue({ $0.leads[id] == nil }), id.allSatisfy(\.isNumber) {
            try? addSyntheticLead(id: id, createdTime: Self.graphTimestamp(Date()))
        }
        let (stored, keys) = state.withLockedValue { ($0.leads[id], $0.leadKeys[id]) }
        if let stored, let keys, Self.selectsAll(keys, fields: fields) { return ok(stored) }
        guard let data = stored, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            return graphError(
                404, code: 803, type: "OAuthException",
                message: "(#803) Some of the aliases you requested do not exist: \(id)")
        }
        return ok(Self.serialize(Self.selecting(object, fields: fields)))
    }

    private func formLeads(formID: String, request: RecordedRequest) -> CannedResponse {
        let since = Self.timeCreatedFilter(request.query["filtering"])
        let fields = request.query["fields"]
        func keep(_ lead: [String: Any]) -> Bool {
            guard let since else { return true }
            guard let created = (lead["created_time"] as? String).flatMap(Self.parseGraphTime) else { return false }
            return created > since
        }
        if formID == Self.fixtureForm {
            // The fixture pages, as Meta pages them: no cursor -> page 1, page 1's `after` -> page 2.
            let index = request.query["after"] == nil ? 0 : 1
            guard request.query["after"] == nil || request.query["after"] == "QVFIUmZA" else {
                return graphError(400, code: 100, type: "OAuthException", message: "Invalid cursor")
            }
            guard var page = try? JSONSerialization.jsonObject(with: formPages[index]) as? [String: Any] else {
                return graphError(500, code: 2, type: "OAuthException", message: "fixture unreadable")
            }
            let data = (page["data"] as? [[String: Any]] ?? []).filter(keep).map { Self.selecting($0, fields: fields) }
            page["data"] = data
            if var paging = page["paging"] as? [String: Any], paging["next"] != nil,
                let after = (paging["cursors"] as? [String: Any])?["after"] as? String
            {
                paging["next"] = "\(baseURL)/v25.0/\(formID)/leads?after=\(after)"
                page["paging"] = paging
            }
            return ok(Self.serialize(page))
        }
        // Other forms: the leads added for them, oldest first, `limit` per page.
        let all = state.withLockedValue { state in state.leadOrder.compactMap { state.leads[$0] } }
            .compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            .filter { ($0["form_id"] as? String) == formID }.filter(keep)
        let limit = max(1, min(Int(request.query["limit"] ?? "25") ?? 25, 100))
        let start =
            request.query["after"].flatMap { Data(base64Encoded: $0) }.flatMap {
                Int(String(decoding: $0, as: UTF8.self))
            } ?? 0
        let slice = all.dropFirst(start).prefix(limit).map { Self.selecting($0, fields: fields) }
        var page: [String: Any] = ["data": Array(slice)]
        if !slice.isEmpty {
            let before = Data(String(start).utf8).base64EncodedString()
            let after = Data(String(start + slice.count).utf8).base64EncodedString()
            var paging: [String: Any] = ["cursors": ["before": before, "after": after]]
            if start + slice.count < all.count {
                paging["next"] = "\(baseURL)/v25.0/\(formID)/leads?after=\(after)&limit=\(limit)"
            }
            page["paging"] = paging
        }
        return ok(Self.serialize(page))
    }

    private func accounts() -> CannedResponse {
        let data = pages.map { page -> [String: Any] in
            [
                "id": page.id, "name": page.name, "access_token": page.accessToken, "category": "Software",
                "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
            ]
        }
        return ok(Self.serialize(["data": data, "paging": ["cursors": ["before": "QVFIUmJ", "after": "QVFIUmZA"]]]))
    }

    private func subscribedApps(pageID: String, request: RecordedRequest) -> CannedResponse {
        guard pages.contains(where: { $0.id == pageID }) else {
            return graphError(
                400, code: 100, type: "GraphMethodException",
                message: "Unsupported \(request.method.lowercased()) request. Object with ID '\(pageID)' does not exist"
            )
        }
        switch request.method {
        case "POST":
            let fields = (request.query["subscribed_fields"] ?? "").split(separator: ",").map(String.init)
            guard !fields.isEmpty else {
                return graphError(
                    400, code: 100, type: "OAuthException",
                    message: "(#100) The parameter subscribed_fields is required")
            }
            state.withLockedValue { $0.subscriptions[pageID] = fields }
            return ok(Data("{\"success\":true}".utf8))
        case "DELETE":
            state.withLockedValue { $0.subscriptions[pageID] = nil }
            return ok(Data("{\"success\":true}".utf8))
        default:
            let fields = state.withLockedValue { $0.subscriptions[pageID] }
            let data: [[String: Any]] =
                fields.map { [["name": "Leadline", "id": "123", "subscribed_fields": $0]] } ?? []
            return ok(Self.serialize(["data": data]))
        }
    }

    /// GET /oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret&fb_exchange_token
    private func exchangeToken(_ request: RecordedRequest) -> CannedResponse {
        guard request.query["grant_type"] == "fb_exchange_token", let short = request.query["fb_exchange_token"],
            !short.isEmpty,
            request.query["client_id"] != nil
        else {
            return graphError(
                400, code: 100, type: "OAuthException", message: "Missing or invalid parameters for fb_exchange_token")
        }
        if let appSecret, request.query["client_secret"] != appSecret {
            return graphError(400, code: 1, type: "OAuthException", message: "Error validating client secret.")
        }
        if let valid = state.withLockedValue({ $0.validTokens }), !valid.contains(short) {
            return respond(.tokenInvalid)
        }
        return ok(longLivedToken)
    }

    // MARK: helpers

    static func strippingVersion(_ path: String) -> String {
        let parts = path.split(separator: "/", maxSplits: 1)
        if let first = parts.first, first.hasPrefix("v"), first.dropFirst().allSatisfy({ $0.isNumber || $0 == "." }) {
            return "/" + (parts.count > 1 ? parts[1] : "")
        }
        return path
    }

    static func accessToken(of request: RecordedRequest) -> String? {
        if let header = request.header("Authorization") {
            for scheme in ["Bearer ", "OAuth "] where header.hasPrefix(scheme) {
                return String(header.dropFirst(scheme.count))
            }
        }
        return request.query["access_token"]
    }

    static func selecting(_ object: [String: Any], fields: String?) -> [String: Any] {
        guard let fields, !fields.isEmpty else { return object }
        let wanted = Set(fields.split(separator: ",").map(String.init)).union(["id"])
        return object.filter { wanted.contains($0.key) }
    }

    /// The lead's stored JSON, as a request for all its fields gets it.
    public func storedLead(_ id: String) -> Data? { state.withLockedValue { $0.leads[id] } }

    public static func selectsAll(_ keys: Set<String>, fields: String?) -> Bool {
        guard let fields, !fields.isEmpty else { return true }
        return keys.isSubset(of: Set(fields.split(separator: ",").map(String.init)).union(["id"]))
    }

    static func serialize(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    static func timeCreatedFilter(_ filtering: String?) -> Date? {
        guard let filtering, let data = filtering.data(using: .utf8),
            let filters = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return nil }
        for filter in filters where filter["field"] as? String == "time_created" {
            if let value = filter["value"] as? Int { return Date(timeIntervalSince1970: TimeInterval(value)) }
            if let value = filter["value"] as? String, let seconds = Int(value) {
                return Date(timeIntervalSince1970: TimeInterval(seconds))
            }
        }
        return nil
    }

    static func parseGraphTime(_ text: String) -> Date? {
        // +0000 into the +00:00 RFC 3339 wants.
        let characters = Array(text)
        guard characters.count == 24, characters[19] == "+" || characters[19] == "-" else { return nil }
        return try? Date.ISO8601FormatStyle().parse(String(characters[0..<22]) + ":" + String(characters[22...]))
    }
}

public struct GraphDoubleError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
