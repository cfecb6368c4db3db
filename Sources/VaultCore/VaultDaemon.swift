import Crypto
import LeadlineRPC
import LeadlineRuntime

/// leadline-vault: the only process that holds decrypted secrets. It reads the master key from
/// the `master-key` credential, refuses to start on a missing, malformed or different key, and
/// serves the vault.* methods of Schemas/vault.openrpc.json.
public enum VaultDaemon {
    public static func build(_ context: DaemonContext) async throws -> DaemonBody {
        let masterKey = SymmetricKey(data: try context.credentials.read("master-key", exactBytes: 32))
        let keyring = Keyring(masterKey: masterKey)
        // Before Storage opens (and migrates) the file: a wrong key must leave it untouched.
        try MasterKeyCheck.verify(databasePath: context.databasePath, keyring: keyring)

        let storage = try context.openStorage(migrations: VaultSchema.migrations)
        try await storage.write { db in try keyring.load(from: db) }
        let spool = context.auditSpool(storage: storage)
        let service = VaultService(
            storage: storage, spool: spool, keyring: keyring,
            policy: KeyRotation.Policy(
                afterEncryptions: context.config.vault.rotateAfterEncryptions,
                afterDays: context.config.vault.rotateAfterDays),
            logger: context.logger)
        var table = RPCMethodTable()
        service.register(into: &table)
        return DaemonBody(
            table: table, storage: storage, services: [spool.forwarder(), service.rotation.automaticRotation()],
            queueDepths: { ["auditSpool": await spool.depth(), "auditRejected": await spool.rejectedCount()] })
    }
}
