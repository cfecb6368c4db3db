import Foundation
import NIOConcurrencyHelpers

/// Salesforce REST on loopback: Lead create and upsert on an external-id field, the OAuth token
/// endpoint (whose instance_url points back here), answers shaped like ../shared/fixtures/salesforce.
public final class SalesforceDouble: Sendable {
    public struct Lead: Sendable {
        public var id: String
        public var fields: [String: String]
        public var writes: Int
    }

    public let server: HTTPTestServer
    public let faults = FaultSchedule()
    public let tokens: TokenBook
    private let leads = NIOLockedValueBox([String: Lead]())
    private let nextID = NIOLockedValueBox(1)

    public var baseURL: String { server.baseURL }
    public var records: [String: Lead] { leads.withLockedValue { $0 } }

    public init(port: Int = 0, accessToken: String = "00D-salesforce-test", refreshToken: String = "5Aep-refresh-0000")
        async throws
    {
        tokens = TokenBook(accessToken: accessToken, refreshToken: refreshToken, prefix: "00D5g000000AbCd!AQ4AQ-new-")
        server = try await HTTPTestServer(port: port)
        server.respond { [weak self] request in
            guard let self else { return .reset }
            return self.answer(request)
        }
    }

    public func shutdown() async { await server.shutdown() }

    func answer(_ request: RecordedRequest) -> CannedResponse {
        if request.method == "POST" && request.path == "/services/oauth2/token" {
            let form = VendorFixture.form(request.body)
            guard form["grant_type"] == "refresh_token", let token = tokens.refresh(with: form["refresh_token"]) else {
                return .json(
                    400, object: ["error": "invalid_grant", "error_description": "expired access/refresh token"])
            }
            var body = VendorFixture.body("salesforce/oauth-refresh-200.json") as? [String: Any] ?? [:]
            body["access_token"] = token
            body["instance_url"] = baseURL
            return .json(200, object: body)
        }
        guard tokens.isValid(TokenBook.bearer(request)) else {
            return VendorFixture.response(401, "salesforce/401-invalid-session.json")
        }
        let fault = faults.next()
        switch fault {
        case .validation?: return VendorFixture.response(400, "salesforce/400-required-fields.json")
        case .rateLimited?, .retryAfter?: return VendorFixture.response(403, "salesforce/403-request-limit.json")
        case .serverError(let status)?:
            return .json(
                status, object: [["message": "An unexpected error occurred", "errorCode": "UNKNOWN_EXCEPTION"]])
        case .conflict?: return VendorFixture.response(300, "salesforce/upsert-300-multiple.json")
        default: break
        }
        let parts = request.path.split(separator: "/").map(String.init)
        // services / data / vNN.N / ...
        guard parts.count >= 4, parts[0] == "services", parts[1] == "data", parts[2].hasPrefix("v") else {
            return .json(404, object: [["message": "The requested resource does not exist", "errorCode": "NOT_FOUND"]])
        }
        let rest = Array(parts[3...])
        switch (request.method, rest.count) {
        case ("GET", 1) where rest[0] == "limits":
            return .json(200, object: ["DailyApiRequests": ["Max": 15000, "Remaining": 14998]])
        case ("POST", 2) where rest == ["sobjects", "Lead"]:
            let fields = ((request.json as? [String: Any]) ?? [:]).compactMapValues { "\($0)" }
            if let missing = missingRequired(fields) { return missing }
            let lead = store(key: nil, fields: fields).lead
            return FaultSchedule.lose(.json(201, object: ["id": lead.id, "success": true, "errors": []]), to: fault)
        case ("PATCH", 4) where rest[0] == "sobjects" && rest[1] == "Lead":
            let key = "\(rest[2])=\(rest[3].removingPercentEncoding ?? rest[3])"
            var fields = ((request.json as? [String: Any]) ?? [:]).compactMapValues { "\($0)" }
            fields[rest[2]] = rest[3].removingPercentEncoding ?? rest[3]
            if leads.withLockedValue({ $0[key] }) == nil, let missing = missingRequired(fields) { return missing }
            let (lead, created) = store(key: key, fields: fields)
            return FaultSchedule.lose(
                .json(created ? 201 : 200, object: ["id": lead.id, "success": true, "errors": [], "created": created]),
                to: fault)
        case ("GET", 4) where rest[0] == "sobjects" && rest[1] == "Lead":
            let key = "\(rest[2])=\(rest[3].removingPercentEncoding ?? rest[3])"
            guard let lead = leads.withLockedValue({ $0[key] }) else {
                return .json(
                    404,
                    object: [
                        [
                            "message": "Provided external ID field does not exist or is not accessible",
                            "errorCode": "NOT_FOUND",
                        ]
                    ])
            }
            return .json(200, object: ["Id": lead.id])
        default:
            return .json(404, object: [["message": "The requested resource does not exist", "errorCode": "NOT_FOUND"]])
        }
    }

    private func missingRequired(_ fields: [String: String]) -> CannedResponse? {
        let missing = ["LastName", "Company"].filter { (fields[$0] ?? "").isEmpty }
        guard !missing.isEmpty else { return nil }
        return .json(
            400,
            object: [
                [
                    "message": "Required fields are missing: [\(missing.joined(separator: ", "))]",
                    "errorCode": "REQUIRED_FIELD_MISSING", "fields": missing,
                ]
            ])
    }

    /// Upserts under `key` (external-id field and value), or creates when there is none.
    private func store(key: String?, fields: [String: String]) -> (lead: Lead, created: Bool) {
        leads.withLockedValue { leads in
            if let key, var lead = leads[key] {
                lead.fields.merge(fields) { $1 }
                lead.writes += 1
                leads[key] = lead
                return (lead, false)
            }
            let number = nextID.withLockedValue { id in
                defer { id += 1 }
                return id
            }
            let id = "00Q5g" + String(format: "%010d", number) + "AAZ"
            let lead = Lead(id: id, fields: fields, writes: 1)
            leads[key ?? id] = lead
            return (lead, true)
        }
    }
}
