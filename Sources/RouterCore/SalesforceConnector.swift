import Foundation
import LeadlineHTTP
import LeadlineRPC

/// Salesforce REST: upsert on the destination's external-id field (keyed on the Leadline lead id,
/// so a repeat updates the same Lead), else create. API calls go to the credential's
/// instance_url; a 401 INVALID_SESSION_ID refreshes the token once and uses the new instance_url.
struct SalesforceConnector: Connector {
    static let defaultAPIVersion = "v62.0"

    func deliver(_ job: DeliveryJob, _ context: ConnectorContext) async throws -> Delivered {
        let fields = FieldMap.render(job.fieldMap, lead: job.lead)
        let body = VendorResponse.json(.object(fields))
        var token = try await context.tokens.token(for: job.destination)
        var response = try await context.http.send(try request(job, token: token, body: body, context))
        if response.status == 401 {
            token = try await context.tokens.refresh(job.destination, after: token)
            response = try await context.http.send(try request(job, token: token, body: body, context))
        }
        switch response.status {
        case 200, 201:
            guard let id = (try? JSONCoding.parse(response.body))?["id"]?.stringValue else {
                throw DeliveryFailure(.transient, status: response.status, "HTTP \(response.status) without a Lead id")
            }
            return Delivered(recordId: id, httpStatus: response.status)
        case 204:
            // Older API versions answer an upsert that updated with no body: look the id up.
            return Delivered(recordId: try await lookUp(job, token: token, context), httpStatus: 204)
        case 300:
            throw DeliveryFailure(
                .permanent, status: 300,
                "HTTP 300: several Leads share this \(job.destination.options.externalIdField ?? "") value")
        case 403 where VendorResponse.message(response).contains("REQUEST_LIMIT_EXCEEDED"):
            throw DeliveryFailure(.rateLimited(after: nil), status: 403, VendorResponse.message(response))
        default:
            throw VendorResponse.failure(response)
        }
    }

    func check(_ destination: Destination, _ context: ConnectorContext) async throws -> HTTPResponse {
        let token = try await context.tokens.token(for: destination)
        let version = destination.options.apiVersion ?? Self.defaultAPIVersion
        return try await context.http.send(
            HTTPRequest(
                url: try Self.instance(token, destination).url("/services/data/\(version)/limits"),
                headers: [("Authorization", "Bearer \(token.token)")], timeout: context.timing.requestTimeout))
    }

    private func request(_ job: DeliveryJob, token: AccessToken, body: Data, _ context: ConnectorContext) throws
        -> HTTPRequest
    {
        let instance = try Self.instance(token, job.destination)
        let version = job.destination.options.apiVersion ?? Self.defaultAPIVersion
        let headers = [("Authorization", "Bearer \(token.token)"), ("Content-Type", "application/json")]
        if let field = job.destination.options.externalIdField {
            let path = "/services/data/\(version)/sobjects/Lead/\(field)/\(HTTPTarget.escape(job.leadId))"
            return HTTPRequest(
                method: "PATCH", url: instance.url(path), headers: headers, body: body,
                timeout: context.timing.requestTimeout, idempotent: true)
        }
        return HTTPRequest(
            method: "POST", url: instance.url("/services/data/\(version)/sobjects/Lead"), headers: headers,
            body: body, timeout: context.timing.requestTimeout)
    }

    private func lookUp(_ job: DeliveryJob, token: AccessToken, _ context: ConnectorContext) async throws -> String? {
        guard let field = job.destination.options.externalIdField else { return nil }
        let version = job.destination.options.apiVersion ?? Self.defaultAPIVersion
        let path = "/services/data/\(version)/sobjects/Lead/\(field)/\(HTTPTarget.escape(job.leadId))"
        let response = try await context.http.send(
            HTTPRequest(
                url: try Self.instance(token, job.destination).url(path, query: [("fields", "Id")]),
                headers: [("Authorization", "Bearer \(token.token)")], timeout: context.timing.requestTimeout))
        guard response.status == 200 else { return nil }
        return (try? JSONCoding.parse(response.body))?["Id"]?.stringValue
    }

    static func instance(_ token: AccessToken, _ destination: Destination) throws -> HTTPTarget {
        guard let instance = token.instanceURL, instance.hasPrefix("http://") || instance.hasPrefix("https://") else {
            throw DeliveryFailure(
                .transient, status: nil,
                "credential '\(destination.credential)' has no instance_url; refresh or re-authorize it")
        }
        return HTTPTarget(baseURL: instance)
    }
}
