import Foundation
import LeadlineHTTP
import LeadlineRPC
import LeadlineRuntime
import NIOConcurrencyHelpers

/// An access token ready to use, and where API calls go (Salesforce's instance_url).
struct AccessToken: Sendable {
    var token: String
    var instanceURL: String?
    /// The vault version it came from: a refresh on 401 compares against it.
    var version: Int
}

/// OAuth credentials of HubSpot and Salesforce destinations: a JSON text in the vault with
/// access_token, refresh_token, client_id, client_secret (Salesforce also instance_url,
/// HubSpot expires_at). A plain string is a static token (HubSpot private app, Pipedrive).
/// Refreshes before expiry and on 401, one refresh per credential at a time, written back to the
/// vault with compare-and-swap.
final class OAuthTokens: Sendable {
    private let credentials: CredentialSource
    private let http: HTTPClient
    private let refreshing = NIOLockedValueBox([String: Task<StoredSecret, Error>]())
    /// Refresh when the token has less than this left.
    private let refreshMargin: Double = 120

    init(credentials: CredentialSource, http: HTTPClient) {
        self.credentials = credentials
        self.http = http
    }

    func token(for destination: Destination) async throws -> AccessToken {
        var secret = try await credentials.secret(destination.credential)
        if let fields = Self.fields(secret.value), fields["refresh_token"]?.stringValue != nil,
            let expiry = Self.expiry(fields, secret), expiry.timeIntervalSinceNow < refreshMargin
        {
            secret = try await refreshed(destination, staleVersion: secret.version)
        }
        return try Self.accessToken(secret)
    }

    /// After a 401: a new token, from another refresher's work when the vault already moved on,
    /// else from the token endpoint.
    func refresh(_ destination: Destination, after stale: AccessToken) async throws -> AccessToken {
        try Self.accessToken(try await refreshed(destination, staleVersion: stale.version))
    }

    private func refreshed(_ destination: Destination, staleVersion: Int) async throws -> StoredSecret {
        let name = destination.credential
        let task = refreshing.withLockedValue { running -> Task<StoredSecret, Error> in
            if let task = running[name] { return task }
            let task = Task { try await self.performRefresh(destination, staleVersion: staleVersion) }
            running[name] = task
            return task
        }
        defer { refreshing.withLockedValue { if $0[name] == task { $0[name] = nil } } }
        return try await task.value
    }

    private func performRefresh(_ destination: Destination, staleVersion: Int) async throws -> StoredSecret {
        let current = try await credentials.secret(destination.credential, fresh: true)
        if current.version != staleVersion { return current }
        guard var fields = Self.fields(current.value), let refreshToken = fields["refresh_token"]?.stringValue else {
            throw CredentialError.malformed(
                "credential '\(destination.credential)' has no refresh_token; put a fresh token in the vault")
        }
        let endpoint: String
        switch destination.kind {
        case .salesforce: endpoint = "/services/oauth2/token"
        case .hubspot: endpoint = "/oauth/v1/token"
        case .pipedrive, .webhook:
            throw CredentialError.malformed("\(destination.kind.rawValue) credentials are not refreshed")
        }
        var form = [("grant_type", "refresh_token"), ("refresh_token", refreshToken)]
        if let id = fields["client_id"]?.stringValue { form.append(("client_id", id)) }
        if let secret = fields["client_secret"]?.stringValue { form.append(("client_secret", secret)) }
        let body = form.map { "\(HTTPTarget.escape($0.0))=\(HTTPTarget.escape($0.1))" }.joined(separator: "&")
        let target = HTTPTarget(baseURL: destination.baseUrl ?? "")
        let response = try await http.send(
            HTTPRequest(
                method: "POST", url: target.url(endpoint),
                headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                body: Data(body.utf8)))
        guard response.status == 200, let reply = try? JSONCoding.parse(response.body),
            let access = reply["access_token"]?.stringValue
        else {
            let code = (try? JSONCoding.parse(response.body))?["error"]?.stringValue ?? "HTTP \(response.status)"
            throw CredentialError.unavailable(
                "token refresh for '\(destination.credential)' refused: \(code.prefix(100))")
        }
        fields["access_token"] = .string(access)
        if let rotated = reply["refresh_token"]?.stringValue { fields["refresh_token"] = .string(rotated) }
        if let instance = reply["instance_url"]?.stringValue { fields["instance_url"] = .string(instance) }
        var expiresAt: Date?
        if let seconds = reply["expires_in"]?.doubleValue {
            let expiry = Date().addingTimeInterval(seconds)
            expiresAt = expiry
            fields["expires_at"] = .string(RouterTime.iso(expiry.timeIntervalSince1970))
        }
        let text = String(decoding: try JSONCoding.encode(JSONValue.object(fields)), as: UTF8.self)
        return try await credentials.replace(
            destination.credential, value: text, expectedVersion: current.version, expiresAt: expiresAt)
    }

    static func fields(_ value: String) -> [String: JSONValue]? {
        guard value.hasPrefix("{") else { return nil }
        return (try? JSONCoding.parse(Array(value.utf8)))?.objectValue
    }

    static func expiry(_ fields: [String: JSONValue], _ secret: StoredSecret) -> Date? {
        if let text = fields["expires_at"]?.stringValue, let date = RFC3339.parse(text) { return date }
        return secret.expiresAt
    }

    static func accessToken(_ secret: StoredSecret) throws -> AccessToken {
        if let fields = fields(secret.value) {
            guard let token = fields["access_token"]?.stringValue, !token.isEmpty else {
                throw CredentialError.malformed("credential '\(secret.name)' has no access_token")
            }
            return AccessToken(token: token, instanceURL: fields["instance_url"]?.stringValue, version: secret.version)
        }
        let token = secret.value.trimmingCharacters(in: .whitespacesAndNewlines)
        return AccessToken(token: token, instanceURL: nil, version: secret.version)
    }
}
