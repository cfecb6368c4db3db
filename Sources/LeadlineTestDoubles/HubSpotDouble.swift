import Foundation
import NIOConcurrencyHelpers

/// HubSpot CRM v3 on loopback: contacts keyed by email (batch upsert, plain create with 409 on a
/// duplicate), the OAuth token endpoint, answers shaped like ../shared/fixtures/hubspot.
public final class HubSpotDouble: Sendable {
    public struct Contact: Sendable {
        public var id: String
        public var properties: [String: String]
        public var writes: Int
    }

    public let server: HTTPTestServer
    public let faults = FaultSchedule()
    public let tokens: TokenBook
    private let contacts = NIOLockedValueBox([String: Contact]())
    private let nextID = NIOLockedValueBox(51)

    public var baseURL: String { server.baseURL }
    /// Every contact, by email.
    public var records: [String: Contact] { contacts.withLockedValue { $0 } }

    /// - rateLimitHeaders: replace fixture headers of the 429 (e.g. a shorter interval for tests).
    public init(
        port: Int = 0, accessToken: String = "hubspot-test-token", refreshToken: String = "na1-refresh-0000",
        rateLimitHeaders: [String: String] = [:]
    ) async throws {
        let tokens = TokenBook(accessToken: accessToken, refreshToken: refreshToken, prefix: "CJSP-access-")
        self.tokens = tokens
        server = try await HTTPTestServer(port: port)
        server.respond { [weak self] request in
            guard let self else { return .reset }
            return self.answer(request, rateLimitHeaders: rateLimitHeaders)
        }
    }

    public func shutdown() async { await server.shutdown() }

    func answer(_ request: RecordedRequest, rateLimitHeaders: [String: String]) -> CannedResponse {
        if request.method == "POST" && request.path == "/oauth/v1/token" {
            let form = VendorFixture.form(request.body)
            guard form["grant_type"] == "refresh_token", let token = tokens.refresh(with: form["refresh_token"]) else {
                return .json(
                    400, object: ["status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"])
            }
            var body = VendorFixture.body("hubspot/oauth-refresh-200.json") as? [String: Any] ?? [:]
            body["access_token"] = token
            body["refresh_token"] = form["refresh_token"]
            return .json(200, object: body)
        }
        guard tokens.isValid(TokenBook.bearer(request)) else {
            return VendorFixture.response(401, "hubspot/401-expired.json")
        }
        let fault = faults.next()
        switch fault {
        case .validation?: return VendorFixture.response(400, "hubspot/400-invalid-property.json")
        case .rateLimited?:
            var headers = Dictionary(VendorFixture.headers("hubspot/429-rate-limit.json"), uniquingKeysWith: { $1 })
            headers.merge(rateLimitHeaders) { $1 }
            return .json(
                429, object: VendorFixture.body("hubspot/429-rate-limit.json"),
                headers: headers.sorted { $0.key < $1.key })
        case .retryAfter(let seconds)?:
            return .json(
                429, object: VendorFixture.body("hubspot/429-rate-limit.json"),
                headers: [("Retry-After", String(seconds))])
        case .serverError(let status)?:
            return .json(
                status, object: ["status": "error", "message": "internal error", "category": "INTERNAL_ERROR"])
        default: break
        }
        switch (request.method, request.path) {
        case ("POST", "/crm/v3/objects/contacts/batch/upsert"):
            guard let body = request.json as? [String: Any], let inputs = body["inputs"] as? [[String: Any]] else {
                return .json(
                    400, object: ["status": "error", "message": "Invalid input JSON", "category": "VALIDATION_ERROR"])
            }
            if case .conflict? = fault, let email = inputs.first?["id"] as? String {
                let id = upsert(email: email, properties: [:], countWrite: false).contact.id
                return .json(409, object: conflictBody(id))
            }
            var results: [[String: Any]] = []
            for input in inputs {
                guard input["idProperty"] as? String == "email", let email = input["id"] as? String else {
                    return .json(
                        400,
                        object: [
                            "status": "error", "message": "idProperty must be email", "category": "VALIDATION_ERROR",
                        ])
                }
                let properties = (input["properties"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
                let (contact, created) = upsert(email: email, properties: properties, countWrite: true)
                results.append(contactJSON(contact, new: created))
            }
            let now = VendorFixture.isoNow()
            return FaultSchedule.lose(
                .json(200, object: ["status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now]),
                to: fault)
        case ("POST", "/crm/v3/objects/contacts"):
            let properties = ((request.json as? [String: Any])?["properties"] as? [String: Any] ?? [:])
                .compactMapValues { $0 as? String }
            guard let email = properties["email"] else {
                return .json(
                    400, object: ["status": "error", "message": "email is required", "category": "VALIDATION_ERROR"])
            }
            if let existing = contacts.withLockedValue({ $0[email] }) {
                return .json(409, object: conflictBody(existing.id))
            }
            let contact = upsert(email: email, properties: properties, countWrite: true).contact
            return FaultSchedule.lose(.json(201, object: contactJSON(contact, new: true)), to: fault)
        case ("GET", "/crm/v3/objects/contacts"):
            let first = contacts.withLockedValue { $0.values.sorted { $0.id < $1.id }.first }
            return .json(200, object: ["results": first.map { [contactJSON($0, new: false)] } ?? []])
        default:
            return .json(404, object: ["status": "error", "message": "Unknown path", "category": "OBJECT_NOT_FOUND"])
        }
    }

    private func upsert(email: String, properties: [String: String], countWrite: Bool) -> (
        contact: Contact, created: Bool
    ) {
        contacts.withLockedValue { contacts in
            if var contact = contacts[email] {
                contact.properties.merge(properties) { $1 }
                if countWrite { contact.writes += 1 }
                contacts[email] = contact
                return (contact, false)
            }
            let id = nextID.withLockedValue { id in
                defer { id += 1 }
                return String(id)
            }
            var all = properties
            all["email"] = email
            let contact = Contact(id: id, properties: all, writes: countWrite ? 1 : 0)
            contacts[email] = contact
            return (contact, true)
        }
    }

    private func conflictBody(_ id: String) -> Any {
        var body = VendorFixture.body("hubspot/create-409-conflict.json") as? [String: Any] ?? [:]
        body["message"] = "Contact already exists. Existing ID: \(id)"
        return body
    }

    private func contactJSON(_ contact: Contact, new: Bool) -> [String: Any] {
        let now = VendorFixture.isoNow()
        var properties: [String: Any] = contact.properties
        properties["hs_object_id"] = contact.id
        return [
            "id": contact.id, "new": new, "properties": properties, "createdAt": now, "updatedAt": now,
            "archived": false,
        ]
    }
}
