import Foundation
import GRDB
import LeadlineRPC
import LeadlineRuntime
import LeadlineStorage
import Logging

/// The vault's methods. Authorization is decided here rather than by the method table so that
/// every refused attempt is audited too; decrypted values leave only in getSecret's result.
final class VaultService: Sendable {
    let storage: Storage
    let spool: AuditSpool
    let keyring: Keyring
    let logger: Logger
    let rotation: KeyRotation

    init(storage: Storage, spool: AuditSpool, keyring: Keyring, policy: KeyRotation.Policy, logger: Logger) {
        self.storage = storage
        self.spool = spool
        self.keyring = keyring
        self.logger = logger
        self.rotation = KeyRotation(storage: storage, spool: spool, keyring: keyring, policy: policy, logger: logger)
    }

    func register(into table: inout RPCMethodTable) {
        table.register(PutSecret.self, .anyone) { params, call in try await self.put(params, by: call.caller) }
        table.register(GetSecret.self, .anyone) { params, call in try await self.get(params, by: call.caller) }
        table.register(UpdateSecret.self, .anyone) { params, call in try await self.update(params, by: call.caller) }
        table.register(ListSecrets.self, .anyone) { _, call in try await self.list(by: call.caller) }
        table.register(DeleteSecret.self, .anyone) { params, call in try await self.delete(params, by: call.caller) }
        table.register(RotateKey.self, .anyone) { _, call in
            try await self.requireAdmin(call.caller, action: RotateKey.name, subject: KeyRotation.subject)
            return try await self.rotation.rotate(trigger: "manual", actor: call.caller.actor)
        }
        table.register(VaultStatus.self, .anyone) { params, call in try await self.status(params, by: call.caller) }
    }

    // MARK: methods

    func put(_ params: PutSecret.Params, by caller: Caller) async throws -> SecretVersion {
        try await requireAdmin(caller, action: PutSecret.name, subject: params.name)
        let now = AuditEvent.timestamp(Date())
        let readers = StoredSecret.encode(readers: params.readers)
        let metadata = StoredSecret.encode(metadata: params.metadata)
        let kind = params.kind ?? SecretKind.defaultKind
        let result = try await writing { [keyring, spool] db in
            let existing = try StoredSecret.fetch(params.name, in: db)
            let version = (existing?.version ?? 0) + 1
            let keyVersion = try Keyring.currentVersion(in: db)
            guard let key = keyring.key(version: keyVersion) else { throw RuntimeError("key \(keyVersion) not loaded") }
            let sealed = try SecretCipher.seal(
                params.value, key: key, name: params.name, version: version, keyVersion: keyVersion)
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO secrets
                        (name, version, kind, readers, expiresAt, metadata, createdAt, updatedAt, keyVersion, sealed)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    params.name, version, kind, readers, params.expiresAt, metadata, existing?.createdAt ?? now, now,
                    keyVersion, sealed,
                ])
            try Self.countEncryption(keyVersion: keyVersion, in: db)
            try spool.record(
                [Self.event(PutSecret.name, params.name, "ok", caller: caller, ["version": .int(Int64(version))])],
                in: db)
            return SecretVersion(name: params.name, version: version)
        }
        rotation.wakeup.signal()
        return result
    }

    func get(_ params: GetSecret.Params, by caller: Caller) async throws -> GetSecret.Result {
        guard !caller.services.isEmpty else {
            // Same answer whether or not the secret exists: non-services learn nothing.
            try await refuse(
                caller, action: GetSecret.name, subject: params.name, "readable only by the services it names")
        }
        // Two attempts: a rotation finishing between the read and the decryption retires the
        // key the first read saw; the second read sees the re-encrypted row.
        for attempt in 1...2 {
            guard let secret = try await reading({ db in try StoredSecret.fetch(params.name, in: db) }) else {
                await spool.record(Self.event(GetSecret.name, params.name, "not-found", caller: caller))
                throw RPCError.notFound("no secret named '\(params.name)'")
            }
            guard !Set(secret.readers).isDisjoint(with: caller.services) else {
                try await refuse(
                    caller, action: GetSecret.name, subject: params.name, "readable only by the services it names")
            }
            guard let key = keyring.key(version: secret.keyVersion) else {
                if attempt == 1 { continue }
                break
            }
            let value: String
            do {
                value = try SecretCipher.open(
                    secret.sealed, key: key, name: secret.name, version: secret.version, keyVersion: secret.keyVersion)
            } catch let error as SecretIntegrityError {
                logger.error("secret failed authentication", metadata: ["secret": "\(secret.name)"])
                await spool.record(
                    Self.event(GetSecret.name, params.name, "failed", caller: caller, ["reason": "integrity"]))
                throw RPCError.storageFailure(error.description)
            }
            await spool.record(
                Self.event(GetSecret.name, params.name, "ok", caller: caller, ["version": .int(Int64(secret.version))]))
            return GetSecret.Result(
                name: secret.name, version: secret.version, value: value, kind: secret.kind, readers: secret.readers,
                expiresAt: secret.expiresAt, metadata: secret.metadata)
        }
        await spool.record(Self.event(GetSecret.name, params.name, "failed", caller: caller, ["reason": "key-missing"]))
        throw RPCError.storageFailure("the key that sealed '\(params.name)' is missing from the keyring")
    }

    private enum UpdateOutcome: Sendable {
        case updated(Int)
        case notFound
        case denied
        case conflict(current: Int)
    }

    func update(_ params: UpdateSecret.Params, by caller: Caller) async throws -> SecretVersion {
        guard caller.isAdmin || !caller.services.isEmpty else {
            try await refuse(
                caller, action: UpdateSecret.name, subject: params.name, "reserved to an admin or the secret's readers")
        }
        let now = AuditEvent.timestamp(Date())
        // Every outcome is decided and audited inside one transaction, so the compare-and-swap
        // and its audit event cannot drift apart.
        let outcome = try await writing { [keyring, spool] db -> UpdateOutcome in
            let outcome: UpdateOutcome
            var details: [String: JSONValue] = ["expectedVersion": .int(Int64(params.expectedVersion))]
            if let existing = try StoredSecret.fetch(params.name, in: db) {
                if !caller.isAdmin && Set(existing.readers).isDisjoint(with: caller.services) {
                    outcome = .denied
                } else if existing.version != params.expectedVersion {
                    outcome = .conflict(current: existing.version)
                } else {
                    let version = existing.version + 1
                    let keyVersion = try Keyring.currentVersion(in: db)
                    guard let key = keyring.key(version: keyVersion) else {
                        throw RuntimeError("key \(keyVersion) not loaded")
                    }
                    let sealed = try SecretCipher.seal(
                        params.value, key: key, name: params.name, version: version, keyVersion: keyVersion)
                    try db.execute(
                        sql: """
                            UPDATE secrets SET version = ?, sealed = ?, keyVersion = ?, updatedAt = ?,
                                expiresAt = ?, metadata = ?
                            WHERE name = ?
                            """,
                        arguments: [
                            version, sealed, keyVersion, now, params.expiresAt ?? existing.expiresAt,
                            params.metadata.map { StoredSecret.encode(metadata: $0) }
                                ?? StoredSecret.encode(metadata: existing.metadata),
                            params.name,
                        ])
                    try Self.countEncryption(keyVersion: keyVersion, in: db)
                    details["version"] = .int(Int64(version))
                    outcome = .updated(version)
                }
            } else {
                outcome = .notFound
            }
            let word: String
            switch outcome {
            case .updated: word = "ok"
            case .notFound: word = "not-found"
            case .denied: word = "denied"
            case .conflict: word = "conflict"
            }
            try spool.record([Self.event(UpdateSecret.name, params.name, word, caller: caller, details)], in: db)
            return outcome
        }
        switch outcome {
        case .updated(let version):
            rotation.wakeup.signal()
            return SecretVersion(name: params.name, version: version)
        case .notFound:
            throw RPCError.notFound("no secret named '\(params.name)'")
        case .denied:
            throw RPCError.permissionDenied(
                "'\(UpdateSecret.name)' of '\(params.name)' is reserved to an admin or the secret's readers")
        case .conflict(let current):
            throw RPCError.conflict(
                "'\(params.name)' is at version \(current), not \(params.expectedVersion); re-read it and retry")
        }
    }

    func list(by caller: Caller) async throws -> ListSecrets.Result {
        try await requireAdmin(caller, action: ListSecrets.name, subject: "")
        let items = try await reading { db in
            try Row.fetchAll(db, sql: "SELECT * FROM secrets ORDER BY name").map { row in
                let secret = try StoredSecret(row: row)
                return ListSecrets.Item(
                    name: secret.name, version: secret.version, kind: secret.kind, readers: secret.readers,
                    createdAt: secret.createdAt, updatedAt: secret.updatedAt, expiresAt: secret.expiresAt,
                    keyVersion: secret.keyVersion, metadata: secret.metadata)
            }
        }
        await spool.record(Self.event(ListSecrets.name, "", "ok", caller: caller, ["count": .int(Int64(items.count))]))
        return ListSecrets.Result(items: items)
    }

    func delete(_ params: DeleteSecret.Params, by caller: Caller) async throws -> DeleteSecret.Result {
        try await requireAdmin(caller, action: DeleteSecret.name, subject: params.name)
        let deleted = try await writing { [spool] db -> Bool in
            try db.execute(sql: "DELETE FROM secrets WHERE name = ?", arguments: [params.name])
            let deleted = db.changesCount > 0
            try spool.record(
                [Self.event(DeleteSecret.name, params.name, deleted ? "ok" : "not-found", caller: caller)], in: db)
            return deleted
        }
        guard deleted else { throw RPCError.notFound("no secret named '\(params.name)'") }
        // secure_delete overwrote the row in the main file; fold the WAL in too so the old
        // ciphertext does not linger in the log.
        do {
            try await storage.checkpointTruncate()
        } catch {
            logger.warning("WAL checkpoint after delete failed", metadata: ["error": "\(type(of: error))"])
        }
        return DeleteSecret.Result(name: params.name, deleted: true)
    }

    func status(_ params: VaultStatus.Params, by caller: Caller) async throws -> VaultStatus.Result {
        try await requireAdmin(caller, action: VaultStatus.name, subject: "")
        let windowDays = params.expiringWithinDays ?? 7
        let snapshot = try await reading { db in
            let keyVersion = try Keyring.currentVersion(in: db)
            let key = try Row.fetchOne(
                db, sql: "SELECT encryptions, createdAt FROM keyring WHERE version = ?", arguments: [keyVersion])
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM secrets") ?? 0
            let expiring = try Row.fetchAll(db, sql: "SELECT name, expiresAt FROM secrets WHERE expiresAt IS NOT NULL")
                .map { (name: $0["name"] as String, expiresAt: $0["expiresAt"] as String) }
            return (keyVersion, (key?["encryptions"] as Int?) ?? 0, key?["createdAt"] as String?, count, expiring)
        }
        let now = Date()
        let horizon = now.addingTimeInterval(Double(windowDays) * 86_400)
        let dated = snapshot.4.compactMap { entry in RFC3339.parse(entry.expiresAt).map { (entry, $0) } }
        let expired = dated.filter { $0.1 <= now }.sorted { $0.1 < $1.1 }
        let soon = dated.filter { $0.1 > now && $0.1 <= horizon }.sorted { $0.1 < $1.1 }
        return VaultStatus.Result(
            keyVersion: snapshot.0, secrets: snapshot.3, encryptionsSinceRotation: snapshot.1,
            lastRotationAt: snapshot.0 > 1 ? snapshot.2 : nil,
            expiringSoon: soon.map { VaultStatus.Expiry(name: $0.0.name, expiresAt: $0.0.expiresAt) },
            expired: expired.map { VaultStatus.Expiry(name: $0.0.name, expiresAt: $0.0.expiresAt) })
    }

    // MARK: helpers

    static func event(
        _ action: String, _ subject: String, _ outcome: String, caller: Caller, _ details: [String: JSONValue] = [:]
    ) -> AuditEvent {
        var details = details
        details["uid"] = .int(Int64(caller.credentials.uid))
        return event(action, subject, outcome, actor: caller.actor, details)
    }

    /// The audit daemon records the vault as the actor (it appends); who asked the vault is `caller`.
    static func event(
        _ action: String, _ subject: String, _ outcome: String, actor: String, _ details: [String: JSONValue] = [:]
    ) -> AuditEvent {
        var details = details
        details["caller"] = .string(actor)
        return AuditEvent(action: action, subject: subject, outcome: outcome, details: details)
    }

    static func countEncryption(keyVersion: Int, in db: Database) throws {
        try db.execute(
            sql: "UPDATE keyring SET encryptions = encryptions + 1 WHERE version = ?", arguments: [keyVersion])
    }

    func requireAdmin(_ caller: Caller, action: String, subject: String) async throws {
        if !caller.isAdmin { try await refuse(caller, action: action, subject: subject, "reserved to an admin") }
    }

    func refuse(_ caller: Caller, action: String, subject: String, _ rule: String) async throws -> Never {
        logger.notice("refused", metadata: ["method": "\(action)", "caller": "\(caller.actor)"])
        await spool.record(Self.event(action, subject, "denied", caller: caller))
        throw RPCError.permissionDenied("'\(action)'\(subject.isEmpty ? "" : " of '\(subject)'") is \(rule)")
    }

    func writing<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await storage.groupedWrite(body)
        } catch {
            throw Self.mapStorage(error, logger: logger)
        }
    }

    func reading<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await storage.read(body)
        } catch {
            throw Self.mapStorage(error, logger: logger)
        }
    }

    /// Database errors are reported by type only: their text could quote bound values.
    static func mapStorage(_ error: Error, logger: Logger) -> RPCError {
        if let error = error as? RPCError { return error }
        if let error = error as? SecretIntegrityError { return .storageFailure(error.description) }
        logger.error("vault storage failed", metadata: ["error": "\(type(of: error))"])
        return .storageFailure("the vault database could not be read or written; see the journal")
    }
}
