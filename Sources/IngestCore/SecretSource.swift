import Foundation
import LeadlineRPC
import NIOConcurrencyHelpers

/// A secret as ingest uses it: the value and its vault version (a new version of a refused page
/// token is what releases the page's held leads).
public struct Secret: Sendable, Hashable {
    public var value: String
    public var version: Int64
}

public enum SecretError: Error, Sendable, Hashable {
    /// The vault has no such secret.
    case missing
    /// The secret exists but ingest is not among its readers.
    case notReadable
    /// The vault cannot be asked right now: retry later.
    case unavailable
}

/// Where ingest's secrets come from. The only implementation asks the vault; tests and the
/// daemon share it, so nothing else in ingest knows how secrets travel.
public protocol SecretSource: Sendable {
    /// The secret, from a short-lived cache unless `fresh`.
    func secret(named name: String, fresh: Bool) async throws(SecretError) -> Secret
    /// The secret if the cache holds a current copy, without waiting: what lets a webhook be
    /// checked inside the read that brought it.
    func cachedSecret(named name: String) -> Secret?
}

/// Secrets from leadline-vault over JSON-RPC (`vault.getSecret`), cached for `ttl` so a burst of
/// webhooks costs one vault call, short enough that a rotated secret takes effect quickly.
public final class VaultSecretSource: SecretSource {
    private let client: RPCClient
    private let ttl: Duration
    private let cache = NIOLockedValueBox<[String: (secret: Secret, fetched: ContinuousClock.Instant)]>([:])

    public init(client: RPCClient, ttl: Duration = .seconds(30)) {
        self.client = client
        self.ttl = ttl
    }

    public func cachedSecret(named name: String) -> Secret? {
        let now = ContinuousClock.now
        guard let cached = cache.withLockedValue({ $0[name] }), now - cached.fetched < ttl else { return nil }
        return cached.secret
    }

    public func secret(named name: String, fresh: Bool = false) async throws(SecretError) -> Secret {
        let now = ContinuousClock.now
        if !fresh, let cached = cachedSecret(named: name) { return cached }
        let reply: JSONValue
        do {
            reply = try await client.call("vault.getSecret", params: ["name": .string(name)])
        } catch let error as RPCError {
            switch error.name {
            case "NotFound":
                cache.withLockedValue { $0[name] = nil }
                throw .missing
            case "PermissionDenied": throw .notReadable
            default: throw .unavailable
            }
        } catch {
            throw .unavailable
        }
        guard let value = reply["value"]?.stringValue, let version = reply["version"]?.intValue else {
            throw .unavailable
        }
        let secret = Secret(value: value, version: version)
        cache.withLockedValue { $0[name] = (secret, now) }
        return secret
    }
}
