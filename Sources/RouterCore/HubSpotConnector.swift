import Foundation
import LeadlineHTTP
import LeadlineRPC

/// HubSpot CRM v3: one contact per lead through batch upsert keyed on email, so a repeat sends
/// update the same contact. A 409 (a create racing another) adopts the existing contact's id.
struct HubSpotConnector: Connector {
    func deliver(_ job: DeliveryJob, _ context: ConnectorContext) async throws -> Delivered {
        let fields = FieldMap.render(job.fieldMap, lead: job.lead)
        guard let email = fields["email"].flatMap(VendorResponse.text) else {
            throw DeliveryFailure(.permanent, status: nil, "the lead has no value for HubSpot's email, the upsert key")
        }
        var properties: [String: JSONValue] = [:]
        for (name, value) in fields { if let text = VendorResponse.text(value) { properties[name] = .string(text) } }
        let body = VendorResponse.json(
            ["inputs": [["idProperty": "email", "id": .string(email), "properties": .object(properties)]]])
        let target = HTTPTarget(baseURL: job.destination.baseUrl ?? "")
        let url = target.url("/crm/v3/objects/contacts/batch/upsert")
        var token = try await context.tokens.token(for: job.destination)
        var response = try await context.http.send(request(url, body: body, token: token, context))
        if response.status == 401 {
            token = try await context.tokens.refresh(job.destination, after: token)
            response = try await context.http.send(request(url, body: body, token: token, context))
        }
        switch response.status {
        case 200, 201, 207:
            let reply = try? JSONCoding.parse(response.body)
            if let id = reply?["results"]?.arrayValue?.first?["id"].flatMap(VendorResponse.text) {
                return Delivered(recordId: id, httpStatus: response.status)
            }
            let problem = reply?["errors"]?.arrayValue?.first?["message"]?.stringValue ?? "no contact in the answer"
            throw DeliveryFailure(.permanent, status: response.status, "HTTP \(response.status): \(problem)")
        case 409:
            if let id = Self.existingID(response) { return Delivered(recordId: id, httpStatus: 409) }
            throw VendorResponse.failure(response)
        default:
            throw VendorResponse.failure(response)
        }
    }

    func check(_ destination: Destination, _ context: ConnectorContext) async throws -> HTTPResponse {
        let token = try await context.tokens.token(for: destination)
        let url = HTTPTarget(baseURL: destination.baseUrl ?? "").url(
            "/crm/v3/objects/contacts", query: [("limit", "1")])
        return try await context.http.send(
            HTTPRequest(
                url: url, headers: [("Authorization", "Bearer \(token.token)")], timeout: context.timing.requestTimeout)
        )
    }

    /// "Contact already exists. Existing ID: 51" -> "51".
    static func existingID(_ response: HTTPResponse) -> String? {
        guard let message = (try? JSONCoding.parse(response.body))?["message"]?.stringValue,
            let range = message.range(of: #"Existing ID: *([0-9]+)"#, options: .regularExpression)
        else { return nil }
        return String(message[range].drop(while: { !$0.isNumber }))
    }

    private func request(_ url: String, body: Data, token: AccessToken, _ context: ConnectorContext) -> HTTPRequest {
        HTTPRequest(
            method: "POST", url: url,
            headers: [("Authorization", "Bearer \(token.token)"), ("Content-Type", "application/json")], body: body,
            // An upsert by email, and a create whose repeat is a 409 that adopts the first one.
            timeout: context.timing.requestTimeout, idempotent: true)
    }
}
