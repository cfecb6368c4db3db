import Foundation
import LeadlineRPC
import LeadlineSystemd
import Logging
import NIOConcurrencyHelpers

/// The vault's getSecret/updateSecret contract (Schemas/vault.openrpc.json) on the stack's vault
/// socket, for router tests that run before the real vault lands: versions start at 1 and grow by
/// one, updateSecret is compare-and-swap and answers Conflict on a stale expectedVersion.
final class VaultStandIn: Sendable {
    struct Secret: Sendable {
        var value: String
        var version: Int
        var expiresAt: String?
    }

    private let secrets = NIOLockedValueBox([String: Secret]())
    private let updates = NIOLockedValueBox(0)
    /// A value another refresher writes just before the next updateSecret lands.
    private let racingValue = NIOLockedValueBox<String?>(nil)
    private let server: RPCServer

    var updateCount: Int { updates.withLockedValue { $0 } }
    func secret(_ name: String) -> Secret? { secrets.withLockedValue { $0[name] } }

    func put(_ name: String, _ value: String) {
        secrets.withLockedValue { secrets in
            secrets[name] = Secret(value: value, version: (secrets[name]?.version ?? 0) + 1, expiresAt: nil)
        }
    }

    /// The next updateSecret finds the secret already replaced by another refresher: it must
    /// answer Conflict, and the caller must re-read rather than overwrite.
    func someoneElseUpdatesFirst(with value: String) {
        racingValue.withLockedValue { $0 = value }
    }

    init(socketPath: String) async throws {
        let secrets = self.secrets
        let updates = self.updates
        let racingValue = self.racingValue
        var table = RPCMethodTable()
        table.registerRaw("vault.getSecret", .anyService) { params, _ in
            guard let name = params?["name"]?.stringValue else {
                throw RPCError.invalidParams("missing required param 'name'")
            }
            guard let secret = secrets.withLockedValue({ $0[name] }) else {
                throw RPCError.notFound("no secret '\(name)'")
            }
            var reply: [String: JSONValue] = [
                "name": .string(name), "version": .int(Int64(secret.version)), "value": .string(secret.value),
                "kind": "generic", "readers": ["router"],
            ]
            if let expiresAt = secret.expiresAt { reply["expiresAt"] = .string(expiresAt) }
            return .object(reply)
        }
        table.registerRaw("vault.updateSecret", .anyService) { params, _ in
            guard let name = params?["name"]?.stringValue, let value = params?["value"]?.stringValue,
                let expected = params?["expectedVersion"]?.intValue
            else { throw RPCError.invalidParams("name, value and expectedVersion are required") }
            let version = try secrets.withLockedValue { secrets -> Int in
                if let racing = racingValue.withLockedValue({ value in
                    defer { value = nil }; return value
                }),
                    let current = secrets[name]
                {
                    secrets[name] = Secret(value: racing, version: current.version + 1, expiresAt: nil)
                }
                guard let current = secrets[name] else { throw RPCError.notFound("no secret '\(name)'") }
                guard current.version == Int(expected) else {
                    throw RPCError.conflict("secret '\(name)' is at version \(current.version), not \(expected)")
                }
                secrets[name] = Secret(
                    value: value, version: current.version + 1, expiresAt: params?["expiresAt"]?.stringValue)
                return current.version + 1
            }
            updates.withLockedValue { $0 += 1 }
            return ["name": .string(name), "version": .int(Int64(version))]
        }
        let user = UserAccount.lookup(uid: getuid())?.name ?? "root"
        let access = AccessPolicy(
            admins: [user], services: ["vault": user, "router": user, "ingest": user, "audit": user])
        server = RPCServer(
            dispatcher: RPCDispatcher(table: table), access: access, limits: RPCLimits(),
            logger: Logger(label: "test.vault"))
        unlink(socketPath)
        try await server.start(listeningOn: try ListeningSocket.bindUnix(path: socketPath))
    }

    func shutdown() async {
        await server.shutdown(grace: .seconds(1))
    }
}
