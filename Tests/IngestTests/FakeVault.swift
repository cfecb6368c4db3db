import Foundation
import LeadlineRPC
import LeadlineSystemd
import LeadlineTestSupport
import Logging
import NIOConcurrencyHelpers

/// Stand-in for leadline-vault until its branch is merged: vault.putSecret and vault.getSecret
/// (readers enforced) over the real socket path, in the test process. Ingest cannot tell the
/// difference; `IngestHarness.startVault` is the one place to switch to the real executable.
final class FakeVault: Sendable {
    private let server: RPCServer
    private let secrets = NIOLockedValueBox<[String: (value: String, version: Int64, readers: [String])]>([:])

    init(stack: TestStack) async throws {
        var table = RPCMethodTable()
        let secrets = self.secrets
        table.registerRaw("vault.putSecret", .admin) { params, _ in
            guard let name = params?["name"]?.stringValue, let value = params?["value"]?.stringValue,
                let readers = params?["readers"]?.arrayValue?.compactMap(\.stringValue)
            else { throw RPCError.invalidParams("name, value and readers are required") }
            let version = secrets.withLockedValue { secrets -> Int64 in
                let version = (secrets[name]?.version ?? 0) + 1
                secrets[name] = (value, version, readers)
                return version
            }
            return ["name": .string(name), "version": .int(version)]
        }
        table.registerRaw("vault.getSecret", .anyService) { params, context in
            guard let name = params?["name"]?.stringValue else { throw RPCError.invalidParams("name is required") }
            guard let secret = secrets.withLockedValue({ $0[name] }) else {
                throw RPCError.notFound("no secret \(name)")
            }
            guard !context.caller.services.isDisjoint(with: secret.readers) else {
                throw RPCError.permissionDenied("not a reader of \(name)")
            }
            return [
                "name": .string(name), "version": .int(secret.version), "value": .string(secret.value),
                "kind": "generic", "readers": .array(secret.readers.map { .string($0) }),
            ]
        }
        let user = stack.userName
        let access = AccessPolicy(
            admins: [user], submitters: [user],
            services: ["vault": user, "ingest": user, "router": user, "audit": user])
        server = RPCServer(
            dispatcher: RPCDispatcher(table: table), access: access, limits: RPCLimits(),
            logger: Logger(label: "fake-vault"))
        let fd = try ListeningSocket.bindUnix(path: stack.socketPath("vault"))
        try await server.start(listeningOn: fd)
    }

    func shutdown() async {
        await server.shutdown(grace: .milliseconds(100))
    }
}
