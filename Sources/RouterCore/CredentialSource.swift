import Foundation
import LeadlineRPC
import LeadlineRuntime
import NIOConcurrencyHelpers

/// A secret as the vault returns it. `value` never reaches a log, an error or an audit event.
struct StoredSecret: Sendable {
    var name: String
    var version: Int
    var value: String
    var expiresAt: Date?
}

/// The router's only door to the vault: reads credentials (cached briefly so a burst of
/// deliveries costs one vault call) and writes refreshed OAuth tokens back with
/// compare-and-swap, so two refreshers never clobber each other.
final class CredentialSource: Sendable {
    private let client: RPCClient
    private let cacheSeconds: Double
    private let cache = NIOLockedValueBox([String: (secret: StoredSecret, fetched: Date)]())

    init(client: RPCClient, cacheSeconds: Double) {
        self.client = client
        self.cacheSeconds = cacheSeconds
    }

    func secret(_ name: String, fresh: Bool = false) async throws -> StoredSecret {
        if !fresh, let cached = cache.withLockedValue({ $0[name] }),
            Date().timeIntervalSince(cached.fetched) < cacheSeconds
        {
            return cached.secret
        }
        let reply: JSONValue
        do {
            reply = try await client.call("vault.getSecret", params: ["name": .string(name)])
        } catch let error as RPCError {
            throw CredentialError.unavailable("vault refused secret '\(name)': \(error.name)")
        }
        guard let value = reply["value"]?.stringValue, let version = reply["version"]?.intValue else {
            throw CredentialError.unavailable("vault answered getSecret '\(name)' without a value")
        }
        let secret = StoredSecret(
            name: name, version: Int(version), value: value,
            expiresAt: reply["expiresAt"]?.stringValue.flatMap(RFC3339.parse))
        cache.withLockedValue { $0[name] = (secret, Date()) }
        return secret
    }

    /// Writes `value` if the vault still holds `expectedVersion`; returns the stored secret.
    /// On Conflict someone else refreshed first: their version is read and returned instead.
    func replace(_ name: String, value: String, expectedVersion: Int, expiresAt: Date?) async throws -> StoredSecret {
        var params: [String: JSONValue] = [
            "name": .string(name), "value": .string(value), "expectedVersion": .int(Int64(expectedVersion)),
        ]
        if let expiresAt { params["expiresAt"] = .string(RouterTime.iso(expiresAt.timeIntervalSince1970)) }
        do {
            let reply = try await client.call("vault.updateSecret", params: .object(params))
            let version = Int(reply["version"]?.intValue ?? Int64(expectedVersion + 1))
            let secret = StoredSecret(name: name, version: version, value: value, expiresAt: expiresAt)
            cache.withLockedValue { $0[name] = (secret, Date()) }
            return secret
        } catch let error as RPCError where error.name == "Conflict" {
            return try await self.secret(name, fresh: true)
        } catch let error as RPCError {
            throw CredentialError.unavailable("vault refused to update secret '\(name)': \(error.name)")
        }
    }

    func forget(_ name: String) {
        cache.withLockedValue { $0[name] = nil }
    }
}

enum CredentialError: Error, CustomStringConvertible {
    case unavailable(String)
    case malformed(String)

    var description: String {
        switch self {
        case .unavailable(let detail): return detail
        case .malformed(let detail): return detail
        }
    }
}
