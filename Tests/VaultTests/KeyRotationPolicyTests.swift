import Crypto
import Foundation
import LeadlineRPC
import LeadlineRuntime
import LeadlineStorage
import LeadlineTestSupport
import Logging
import Testing

@testable import VaultCore

/// When automatic rotation is due, with the clock passed in rather than waited for.
@Suite struct KeyRotationPolicyTests {
    @Test func rotationIsDueAfterTheConfiguredAgeOrEncryptions() async throws {
        let folder = NSTemporaryDirectory() + "leadline-rotation-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let storage = try Storage(
            path: "\(folder)/vault.sqlite",
            migrations: AuditSpool.migrations(around: VaultSchema.migrations))
        let keyring = Keyring(masterKey: SymmetricKey(size: .bits256))
        try await storage.write { db in try keyring.load(from: db) }
        let logger = Logger(label: "test")
        let spool = AuditSpool(storage: storage, client: RPCClient(socketPath: "\(folder)/absent.sock"), logger: logger)
        let rotation = KeyRotation(
            storage: storage, spool: spool, keyring: keyring,
            policy: KeyRotation.Policy(afterEncryptions: 5, afterDays: 90), logger: logger)

        let now = Date()
        #expect(try await rotation.due(now: now) == nil)
        #expect(try await rotation.due(now: now.addingTimeInterval(89 * 86_400)) == nil)
        #expect(try await rotation.due(now: now.addingTimeInterval(90 * 86_400 + 60)) == "age")

        try await storage.write { db in
            try db.execute(sql: "UPDATE keyring SET encryptions = 5 WHERE version = 1")
        }
        #expect(try await rotation.due(now: now) == "encryptions")

        let result = try await rotation.rotate(trigger: "age", actor: "vault")
        #expect(result.keyVersion == 2)
        #expect(try await rotation.due(now: now) == nil)
        #expect(try await rotation.due(now: now.addingTimeInterval(90 * 86_400 + 60)) == "age")
        try storage.close()
    }
}
