import Foundation
import NIOConcurrencyHelpers

/// Pipedrive v1 on loopback: persons (search by email, create), leads (list by person, create),
/// users/me, API-token auth, answers shaped like ../shared/fixtures/pipedrive.
public final class PipedriveDouble: Sendable {
    public struct Person: Sendable {
        public var id: Int
        public var name: String
        public var emails: [String]
    }
    public struct Lead: Sendable {
        public var id: String
        public var title: String
        public var personId: Int
    }

    public let server: HTTPTestServer
    public let faults = FaultSchedule()
    public let apiToken: String
    private let store = NIOLockedValueBox((persons: [Person](), leads: [Lead](), nextPerson: 1042))

    public var baseURL: String { server.baseURL }
    public var persons: [Person] { store.withLockedValue { $0.persons } }
    public var leads: [Lead] { store.withLockedValue { $0.leads } }

    /// - rateLimitHeaders: replace fixture headers of the 429 (e.g. x-ratelimit-reset for tests).
    public init(port: Int = 0, apiToken: String = "pipedrive-test-token", rateLimitHeaders: [String: String] = [:])
        async throws
    {
        self.apiToken = apiToken
        server = try await HTTPTestServer(port: port)
        server.respond { [weak self] request in
            guard let self else { return .reset }
            return self.answer(request, rateLimitHeaders: rateLimitHeaders)
        }
    }

    public func shutdown() async { await server.shutdown() }

    func answer(_ request: RecordedRequest, rateLimitHeaders: [String: String]) -> CannedResponse {
        guard (request.header("x-api-token") ?? request.query["api_token"]) == apiToken else {
            return VendorFixture.response(401, "pipedrive/401-unauthorized.json")
        }
        let fault = faults.next()
        switch fault {
        case .validation?:
            return .json(
                400,
                object: [
                    "success": false, "error": "Title is required",
                    "error_info": "Please check developers.pipedrive.com", "data": NSNull(),
                ])
        case .rateLimited?:
            var headers = Dictionary(VendorFixture.headers("pipedrive/429-rate-limit.json"), uniquingKeysWith: { $1 })
            headers.merge(rateLimitHeaders) { $1 }
            return .json(
                429, object: VendorFixture.body("pipedrive/429-rate-limit.json"),
                headers: headers.sorted { $0.key < $1.key })
        case .retryAfter(let seconds)?:
            return .json(
                429, object: VendorFixture.body("pipedrive/429-rate-limit.json"),
                headers: [("Retry-After", String(seconds))])
        case .serverError(let status)?:
            return .json(status, object: ["success": false, "error": "Internal server error"])
        default: break
        }
        let body = request.json as? [String: Any] ?? [:]
        switch (request.method, request.path) {
        case ("GET", "/v1/users/me"):
            return .json(200, object: ["success": true, "data": ["id": 7, "name": "Test Owner"]])
        case ("GET", "/v1/persons/search"):
            let term = (request.query["term"] ?? "").lowercased()
            let found = store.withLockedValue { $0.persons.first { $0.emails.contains(term) } }
            guard let found else {
                return FaultSchedule.lose(
                    .json(200, object: VendorFixture.body("pipedrive/persons-search-empty.json")), to: fault)
            }
            let item: [String: Any] = [
                "result_score": 1.0,
                "item": [
                    "id": found.id, "type": "person", "name": found.name, "emails": found.emails, "phones": [String](),
                ],
            ]
            return FaultSchedule.lose(
                .json(
                    200,
                    object: [
                        "success": true, "data": ["items": [item]],
                        "additional_data": [
                            "pagination": ["start": 0, "limit": 100, "more_items_in_collection": false]
                        ],
                    ]),
                to: fault)
        case ("POST", "/v1/persons"):
            guard let name = body["name"] as? String, !name.isEmpty else {
                return .json(400, object: ["success": false, "error": "Name must be given.", "data": NSNull()])
            }
            let emails = (body["email"] as? [[String: Any]] ?? []).compactMap { ($0["value"] as? String)?.lowercased() }
            let person = store.withLockedValue { store -> Person in
                let person = Person(id: store.nextPerson, name: name, emails: emails)
                store.nextPerson += 1
                store.persons.append(person)
                return person
            }
            var reply = VendorFixture.body("pipedrive/create-person-201.json") as? [String: Any] ?? [:]
            var data = reply["data"] as? [String: Any] ?? [:]
            data["id"] = person.id
            data["name"] = name
            data["email"] = emails.map { ["label": "work", "value": $0, "primary": true] }
            reply["data"] = data
            return FaultSchedule.lose(.json(201, object: reply), to: fault)
        case ("GET", "/v1/leads"):
            let personId = Int(request.query["person_id"] ?? "")
            let matching = store.withLockedValue { $0.leads.filter { personId == nil || $0.personId == personId } }
            let data = matching.map { ["id": $0.id, "title": $0.title, "person_id": $0.personId] as [String: Any] }
            return FaultSchedule.lose(.json(200, object: ["success": true, "data": data]), to: fault)
        case ("POST", "/v1/leads"):
            guard let title = body["title"] as? String, !title.isEmpty, let personId = body["person_id"] as? Int else {
                return .json(
                    400, object: ["success": false, "error": "Title and person_id are required", "data": NSNull()])
            }
            let lead = Lead(id: UUID().uuidString.lowercased(), title: title, personId: personId)
            store.withLockedValue { $0.leads.append(lead) }
            var reply = VendorFixture.body("pipedrive/create-lead-201.json") as? [String: Any] ?? [:]
            var data = reply["data"] as? [String: Any] ?? [:]
            data["id"] = lead.id
            data["title"] = title
            data["person_id"] = personId
            reply["data"] = data
            return FaultSchedule.lose(.json(201, object: reply), to: fault)
        default:
            return .json(404, object: ["success": false, "error": "Unknown method ."])
        }
    }
}
