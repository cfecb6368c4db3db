import Foundation
import LeadlineHTTP
import LeadlineRPC

/// How a Graph API refusal must be handled (fixtures/meta/graph-errors.json).
enum GraphFailure: Error, Sendable, Hashable {
    /// Codes 1 and 2, 5xx, timeouts, resets: retry with backoff.
    case temporary(String)
    /// Codes 4, 17, 32, 613, 800xx, HTTP 429: wait, at least as long as Meta says.
    case rateLimited(retryAfter: Duration?)
    /// Code 190: the page token is expired or revoked; an operator must store a new one.
    case tokenInvalid
    /// Codes 10, 100, 200-299: missing permission or app configuration; do not hammer.
    case permissionDenied(code: Int)
    /// HTTP 404 / code 803: the object does not exist (the lead was deleted).
    case notFound

    var summary: String {
        switch self {
        case .temporary(let detail): return "temporary error (\(detail))"
        case .rateLimited: return "rate limited"
        case .tokenInvalid: return "token invalid (190)"
        case .permissionDenied(let code): return "permission denied (\(code))"
        case .notFound: return "lead not found"
        }
    }
}

/// The Graph API calls ingest makes, with the page token in an Authorization header (never in
/// a URL that could reach a log) and appsecret_proof when the app secret is known.
struct GraphClient: Sendable {
    static let leadFields = [
        "id", "created_time", "ad_id", "ad_name", "adset_id", "adset_name", "campaign_id", "campaign_name", "form_id",
        "is_organic", "platform", "field_data", "custom_disclaimer_responses",
    ].joined(separator: ",")

    let http: HTTPClient
    let target: HTTPTarget
    let version: String

    init(http: HTTPClient, baseURL: String, version: String) {
        self.http = http
        self.target = HTTPTarget(baseURL: baseURL)
        self.version = version
    }

    func lead(id: String, token: String, appSecret: String?) async throws(GraphFailure) -> JSONValue {
        try await get("/\(version)/\(id)", query: [("fields", Self.leadFields)], token: token, appSecret: appSecret)
    }

    struct FormLeadsPage: Sendable {
        var leads: [JSONValue]
        var after: String?
    }

    /// One page of /{form-id}/leads created after `since` (unix seconds). The next page is asked
    /// for with the `after` cursor against our own base URL, never by following `paging.next`,
    /// which names Meta's host whatever base URL is configured.
    func formLeads(formID: String, since: Int64?, after: String?, token: String, appSecret: String?)
        async throws(GraphFailure) -> FormLeadsPage
    {
        var query = [("fields", Self.leadFields), ("limit", "100")]
        if let since {
            query.append(
                ("filtering", "[{\"field\":\"time_created\",\"operator\":\"GREATER_THAN\",\"value\":\(since)}]"))
        }
        if let after { query.append(("after", after)) }
        let page = try await get("/\(version)/\(formID)/leads", query: query, token: token, appSecret: appSecret)
        let hasNext = page["paging"]?["next"]?.stringValue != nil
        return FormLeadsPage(
            leads: page["data"]?.arrayValue ?? [],
            after: hasNext ? page["paging"]?["cursors"]?["after"]?.stringValue : nil)
    }

    private func get(_ path: String, query: [(String, String)], token: String, appSecret: String?)
        async throws(GraphFailure) -> JSONValue
    {
        var query = query
        if let appSecret {
            query.append(("appsecret_proof", WebhookSignature.appSecretProof(accessToken: token, appSecret: appSecret)))
        }
        let request = HTTPRequest(
            method: "GET", url: target.url(path, query: query), headers: [("Authorization", "Bearer \(token)")])
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch let error as HTTPClientError {
            throw .temporary(error.isTransient ? "transport: \(Self.kind(error))" : "request: \(Self.kind(error))")
        } catch {
            throw .temporary("transport")
        }
        if response.status == 200, let body = try? JSONCoding.parse(response.body), case .object = body {
            return body
        }
        throw Self.classify(response)
    }

    static func classify(_ response: HTTPResponse) -> GraphFailure {
        let error = (try? JSONCoding.parse(response.body))?["error"]
        let code = error?["code"]?.intValue.map(Int.init)
        switch code {
        case 1?, 2?: return .temporary("code \(code!)")
        case 4?, 17?, 32?, 613?:
            return .rateLimited(retryAfter: regainAccess(response))
        case let code? where (80000...80099).contains(code):
            return .rateLimited(retryAfter: regainAccess(response))
        case 190?, 102?: return .tokenInvalid
        case 10?, 100?: return .permissionDenied(code: code!)
        case let code? where (200...299).contains(code): return .permissionDenied(code: code)
        case 803?: return .notFound
        default: break
        }
        switch response.status {
        case 404: return .notFound
        case 429: return .rateLimited(retryAfter: regainAccess(response))
        default: return .temporary("HTTP \(response.status)")
        }
    }

    /// The longest estimated_time_to_regain_access (minutes) in X-Business-Use-Case-Usage.
    static func regainAccess(_ response: HTTPResponse) -> Duration? {
        guard let header = response.header("x-business-use-case-usage"),
            let usage = try? JSONCoding.parse(Array(header.utf8)), case .object(let byBusiness) = usage
        else { return nil }
        let minutes =
            byBusiness.values.flatMap { $0.arrayValue ?? [] }
            .compactMap { $0["estimated_time_to_regain_access"]?.intValue }.max() ?? 0
        return minutes > 0 ? .seconds(minutes * 60) : nil
    }

    private static func kind(_ error: HTTPClientError) -> String {
        switch error {
        case .timedOut: return "timed out"
        case .connectionFailed: return "connection failed"
        case .connectionReset: return "connection reset"
        case .responseTooLarge: return "response too large"
        case .tls: return "TLS"
        case .invalidRequest: return "invalid request"
        case .other: return "other"
        }
    }
}
