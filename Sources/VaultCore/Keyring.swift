import Crypto
import Foundation
import GRDB
import LeadlineRuntime

/// The vault's data keys, one per key version. In the database each is sealed (AES-256-GCM)
/// by the master key from the `master-key` credential; in memory they are kept unwrapped.
/// The master key itself never touches the disk.
///
/// Unchecked because swift-crypto's SymmetricKey is not marked Sendable, though it is an
/// immutable value; the mutable map of keys is behind a lock.
final class Keyring: @unchecked Sendable {
    private let masterKey: SymmetricKey
    private let keys = Locked([Int: SymmetricKey]())

    init(masterKey: SymmetricKey) {
        self.masterKey = masterKey
    }

    func key(version: Int) -> SymmetricKey? {
        keys.withLock { $0[version] }
    }

    func remember(_ key: SymmetricKey, version: Int) {
        keys.withLock { $0[version] = key }
    }

    /// Drops a retired key from memory once no secret is sealed with it.
    func forget(version: Int) {
        keys.withLock { _ = $0.removeValue(forKey: version) }
    }

    func wrap(_ key: SymmetricKey, version: Int) throws -> Data {
        let bytes = key.withUnsafeBytes { Data($0) }
        guard let combined = try AES.GCM.seal(bytes, using: masterKey, authenticating: Self.wrapData(version)).combined
        else { throw RuntimeError("cannot wrap data key \(version)") }
        return combined
    }

    /// Nil when the master key is not the one that wrapped it: AES-GCM authenticates the wrap,
    /// so a wrong master key can never yield a plausible-looking wrong data key.
    func unwrap(_ wrapped: Data, version: Int) -> SymmetricKey? {
        guard let box = try? AES.GCM.SealedBox(combined: wrapped),
            let bytes = try? AES.GCM.open(box, using: masterKey, authenticating: Self.wrapData(version)),
            bytes.count == 32
        else { return nil }
        return SymmetricKey(data: bytes)
    }

    private static func wrapData(_ version: Int) -> Data {
        Data("leadline.vault.keyring.v1\u{0}\(version)".utf8)
    }

    /// Unwraps every stored key, or creates key version 1 in a fresh database.
    func load(from db: Database) throws {
        let rows = try Row.fetchAll(db, sql: "SELECT version, wrappedKey FROM keyring ORDER BY version")
        if rows.isEmpty {
            let first = SymmetricKey(size: .bits256)
            try db.execute(
                sql: "INSERT INTO keyring (version, wrappedKey, createdAt, encryptions) VALUES (1, ?, ?, 0)",
                arguments: [try wrap(first, version: 1), AuditEvent.timestamp(Date())])
            remember(first, version: 1)
            return
        }
        for row in rows {
            let version: Int = row["version"]
            guard let key = unwrap(row["wrappedKey"], version: version) else { throw MasterKeyMismatch() }
            remember(key, version: version)
        }
    }

    /// Adds the next key version inside the caller's transaction and returns it.
    func addVersion(in db: Database) throws -> Int {
        let next = (try Int.fetchOne(db, sql: "SELECT max(version) FROM keyring") ?? 0) + 1
        let key = SymmetricKey(size: .bits256)
        // Remembered before the commit: an unused key in memory is harmless, a committed
        // version without its key would not be.
        remember(key, version: next)
        try db.execute(
            sql: "INSERT INTO keyring (version, wrappedKey, createdAt, encryptions) VALUES (?, ?, ?, 0)",
            arguments: [next, try wrap(key, version: next), AuditEvent.timestamp(Date())])
        return next
    }

    static func currentVersion(in db: Database) throws -> Int {
        guard let version = try Int.fetchOne(db, sql: "SELECT max(version) FROM keyring") else {
            throw RuntimeError("the vault keyring is empty")
        }
        return version
    }
}

struct MasterKeyMismatch: Error, CustomStringConvertible {
    var description: String {
        "credential 'master-key' is not the key this vault database was created with; refusing to start "
            + "(nothing was changed — restore the matching master-key credential)"
    }
}

/// Checks the master key against an existing database before anything opens it for writing.
/// Opening the real file (even read-only, in WAL mode) would create -wal/-shm files and run
/// migrations, so the check reads a private copy: a refused start leaves the files untouched.
enum MasterKeyCheck {
    static func verify(databasePath: String, keyring: Keyring) throws {
        let files = FileManager.default
        guard files.fileExists(atPath: databasePath) else { return }
        let scratch =
            NSTemporaryDirectory() + "leadline-vault-keycheck-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try files.createDirectory(
            atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? files.removeItem(atPath: scratch) }
        let copy = "\(scratch)/vault.sqlite"
        try files.copyItem(atPath: databasePath, toPath: copy)
        if files.fileExists(atPath: databasePath + "-wal") {
            try files.copyItem(atPath: databasePath + "-wal", toPath: copy + "-wal")
        }
        let queue = try DatabaseQueue(path: copy)
        defer { try? queue.close() }
        try queue.read { db in
            guard try db.tableExists("keyring") else { return }
            let rows = try Row.fetchAll(db, sql: "SELECT version, wrappedKey FROM keyring")
            for row in rows where keyring.unwrap(row["wrappedKey"], version: row["version"]) == nil {
                throw MasterKeyMismatch()
            }
        }
    }
}
