import Foundation
import LeadlineHTTP
import LeadlineRPC

/// Pipedrive v1: find the person by email (create them when absent), then create the lead.
/// Pipedrive has no idempotency key, so each finished step is saved on the delivery before the
/// next, and before creating a lead the person's leads are checked for one with the same title
/// (an earlier attempt whose answer was lost). Field map keys: name, email, phone (the person),
/// title (the lead); any other key is sent on the lead (Pipedrive custom-field keys).
struct PipedriveConnector: Connector {
    static let personFields: Set<String> = ["name", "email", "phone"]

    func deliver(_ job: DeliveryJob, _ context: ConnectorContext) async throws -> Delivered {
        let fields = FieldMap.render(job.fieldMap, lead: job.lead)
        guard let title = fields["title"].flatMap(VendorResponse.text),
            let name = fields["name"].flatMap(VendorResponse.text)
        else {
            throw DeliveryFailure(.permanent, status: nil, "the lead has no value for Pipedrive's name or title")
        }
        let token = try await context.tokens.token(for: job.destination).token
        let api = API(target: HTTPTarget(baseURL: job.destination.baseUrl ?? ""), token: token, context: context)
        let owner = job.destination.options.ownerId.flatMap(VendorResponse.text).flatMap { Int64($0) }
        var progress = job.progress

        let personId: Int64
        if let saved = progress["personId"].flatMap({ Int64($0) }) {
            personId = saved
        } else {
            let email = fields["email"].flatMap(VendorResponse.text)
            if let email, let found = try await findPerson(email: email, api) {
                personId = found
            } else {
                var person: [String: JSONValue] = ["name": .string(name)]
                if let email { person["email"] = [["value": .string(email), "primary": true, "label": "work"]] }
                if let phone = fields["phone"].flatMap(VendorResponse.text) {
                    person["phone"] = [["value": .string(phone), "primary": true, "label": "mobile"]]
                }
                if let owner { person["owner_id"] = .int(owner) }
                let response = try await api.send("POST", "/v1/persons", body: .object(person))
                guard response.status == 200 || response.status == 201,
                    let id = (try? JSONCoding.parse(response.body))?["data"]?["id"]?.intValue
                else { throw VendorResponse.failure(response) }
                personId = id
            }
            progress["personId"] = String(personId)
            try await context.saveProgress(progress)
        }

        if let existing = try await existingLead(personId: personId, title: title, api) {
            return Delivered(recordId: existing, httpStatus: 200)
        }
        var lead: [String: JSONValue] = ["title": .string(title), "person_id": .int(personId)]
        if let owner { lead["owner_id"] = .int(owner) }
        for (key, value) in fields where !Self.personFields.contains(key) && key != "title" { lead[key] = value }
        let response = try await api.send("POST", "/v1/leads", body: .object(lead))
        guard response.status == 200 || response.status == 201,
            let id = (try? JSONCoding.parse(response.body))?["data"]?["id"].flatMap(VendorResponse.text)
        else { throw VendorResponse.failure(response) }
        return Delivered(recordId: id, httpStatus: response.status)
    }

    func check(_ destination: Destination, _ context: ConnectorContext) async throws -> HTTPResponse {
        let token = try await context.tokens.token(for: destination).token
        return try await API(target: HTTPTarget(baseURL: destination.baseUrl ?? ""), token: token, context: context)
            .send("GET", "/v1/users/me")
    }

    private func findPerson(email: String, _ api: API) async throws -> Int64? {
        let response = try await api.send(
            "GET", "/v1/persons/search", query: [("term", email), ("fields", "email"), ("exact_match", "true")])
        guard response.status == 200 else { throw VendorResponse.failure(response) }
        return (try? JSONCoding.parse(response.body))?["data"]?["items"]?.arrayValue?.first?["item"]?["id"]?.intValue
    }

    private func existingLead(personId: Int64, title: String, _ api: API) async throws -> String? {
        let response = try await api.send("GET", "/v1/leads", query: [("person_id", String(personId))])
        guard response.status == 200 else { throw VendorResponse.failure(response) }
        let leads = (try? JSONCoding.parse(response.body))?["data"]?.arrayValue ?? []
        return leads.first { $0["title"]?.stringValue == title }?["id"].flatMap(VendorResponse.text)
    }

    /// Authenticates with the x-api-token header, keeping the token out of URLs and access logs.
    struct API {
        let target: HTTPTarget
        let token: String
        let context: ConnectorContext

        func send(_ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil) async throws
            -> HTTPResponse
        {
            var headers = [("x-api-token", token), ("Accept", "application/json")]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            return try await context.http.send(
                HTTPRequest(
                    method: method, url: target.url(path, query: query), headers: headers,
                    body: body.map(VendorResponse.json), timeout: context.timing.requestTimeout))
        }
    }
}
