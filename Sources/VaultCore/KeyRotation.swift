import Foundation
import GRDB
import LeadlineRPC
import LeadlineRuntime
import LeadlineStorage
import Logging

/// Online key rotation: a new data key becomes current at once (every later seal uses it),
/// then the secrets still sealed by older keys are re-encrypted in small transactions, so
/// readers are never blocked for long and never see a half-rotated secret. Retired keys are
/// removed from the keyring when nothing uses them any more.
final class KeyRotation: Sendable {
    struct Policy: Sendable {
        var afterEncryptions: Int
        var afterDays: Int
    }

    static let subject = "keyring"
    static let batchSize = 32

    let wakeup = Wakeup()
    private let storage: Storage
    private let spool: AuditSpool
    private let keyring: Keyring
    private let policy: Policy
    private let logger: Logger
    private let running = Locked(false)

    init(storage: Storage, spool: AuditSpool, keyring: Keyring, policy: Policy, logger: Logger) {
        self.storage = storage
        self.spool = spool
        self.keyring = keyring
        self.policy = policy
        self.logger = logger
    }

    func rotate(trigger: String, actor: String) async throws -> RotateKey.Result {
        let started = running.withLock { running -> Bool in
            if running { return false }
            running = true
            return true
        }
        guard started else {
            await spool.record(VaultService.event(RotateKey.name, Self.subject, "conflict", actor: actor))
            throw RPCError.conflict("a key rotation is already running; retry when it has finished")
        }
        defer { running.withLock { $0 = false } }
        do {
            return try await rotateNow(trigger: trigger, actor: actor)
        } catch {
            let mapped = VaultService.mapStorage(error, logger: logger)
            await spool.record(
                VaultService.event(RotateKey.name, Self.subject, "failed", actor: actor, ["trigger": .string(trigger)]))
            throw mapped
        }
    }

    private func rotateNow(trigger: String, actor: String) async throws -> RotateKey.Result {
        let keyring = self.keyring
        let newVersion = try await storage.groupedWrite { db in try keyring.addVersion(in: db) }
        var reencrypted = 0
        while true {
            let count = try await storage.groupedWrite { db in
                try Self.reencryptBatch(to: newVersion, keyring: keyring, in: db)
            }
            reencrypted += count
            if count < Self.batchSize { break }
            await Task.yield()
        }
        let spool = self.spool
        let total = reencrypted
        let retired = try await storage.groupedWrite { db -> [Int] in
            let retired = try Int.fetchAll(
                db,
                sql:
                    "SELECT version FROM keyring WHERE version < ? AND version NOT IN (SELECT keyVersion FROM secrets)",
                arguments: [newVersion])
            try db.execute(
                sql: "DELETE FROM keyring WHERE version < ? AND version NOT IN (SELECT keyVersion FROM secrets)",
                arguments: [newVersion])
            try spool.record(
                [
                    VaultService.event(
                        RotateKey.name, Self.subject, "ok", actor: actor,
                        [
                            "keyVersion": .int(Int64(newVersion)), "reencrypted": .int(Int64(total)),
                            "trigger": .string(trigger),
                        ])
                ], in: db)
            return retired
        }
        for version in retired { keyring.forget(version: version) }
        logger.notice(
            "key rotated",
            metadata: ["keyVersion": "\(newVersion)", "reencrypted": "\(reencrypted)", "trigger": "\(trigger)"])
        return RotateKey.Result(keyVersion: newVersion, reencrypted: reencrypted)
    }

    /// Re-seals up to `batchSize` secrets under `newVersion`; the secret versions stay the same.
    /// Re-encryptions are not counted toward the automatic-rotation threshold (that counts new
    /// values), otherwise a large vault would rotate again right after every rotation.
    private static func reencryptBatch(to newVersion: Int, keyring: Keyring, in db: Database) throws -> Int {
        guard let newKey = keyring.key(version: newVersion) else { throw RuntimeError("key \(newVersion) not loaded") }
        let rows = try Row.fetchAll(
            db, sql: "SELECT * FROM secrets WHERE keyVersion < ? ORDER BY name LIMIT ?",
            arguments: [newVersion, batchSize])
        for row in rows {
            let secret = try StoredSecret(row: row)
            guard let oldKey = keyring.key(version: secret.keyVersion) else {
                throw SecretIntegrityError(name: secret.name)
            }
            let value = try SecretCipher.open(
                secret.sealed, key: oldKey, name: secret.name, version: secret.version, keyVersion: secret.keyVersion)
            let sealed = try SecretCipher.seal(
                value, key: newKey, name: secret.name, version: secret.version, keyVersion: newVersion)
            try db.execute(
                sql: "UPDATE secrets SET sealed = ?, keyVersion = ? WHERE name = ?",
                arguments: [sealed, newVersion, secret.name])
        }
        return rows.count
    }

    /// Which threshold the current key has crossed, if any.
    func due(now: Date = Date()) async throws -> String? {
        let current = try await storage.read { db -> (Int, String)? in
            let version = try Keyring.currentVersion(in: db)
            return try Row.fetchOne(
                db, sql: "SELECT encryptions, createdAt FROM keyring WHERE version = ?", arguments: [version]
            ).map { ($0["encryptions"], $0["createdAt"]) }
        }
        guard let (encryptions, createdAt) = current else { return nil }
        if encryptions >= policy.afterEncryptions { return "encryptions" }
        if let created = RFC3339.parse(createdAt), now.timeIntervalSince(created) >= Double(policy.afterDays) * 86_400 {
            return "age"
        }
        return nil
    }

    /// Checks the thresholds when woken by an encryption and at least once a minute (for age).
    func automaticRotation() -> BackgroundLoop {
        BackgroundLoop(name: "key-rotation", interval: .seconds(60), wakeup: wakeup, logger: logger) {
            do {
                if let trigger = try await self.due() {
                    _ = try await self.rotate(trigger: trigger, actor: "vault")
                }
            } catch {
                self.logger.error("automatic key rotation failed", metadata: ["error": "\(error)"])
            }
            return false
        }
    }
}
