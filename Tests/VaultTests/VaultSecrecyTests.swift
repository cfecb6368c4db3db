import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What the encryption at rest promises: no plaintext in any file, ciphertexts bound to their
/// row, and a vault that will not start with the wrong master key.
@Suite struct VaultSecrecyTests {
    @Test func databaseWalShmAndLogNeverContainAPlaintextValue() async throws {
        let vault = try VaultFixture()
        var values: [String] = []
        for index in 0..<20 {
            let value = Canary.value()
            values.append(value)
            try await vault.put("crm/token-\(index)", value)
        }
        for index in 0..<20 {
            #expect(Canary.digest(try await vault.value(of: "crm/token-\(index)")) == Canary.digest(values[index]))
        }
        for index in 0..<5 {
            let value = Canary.value()
            values.append(value)
            _ = try await vault.client.call(
                "vault.updateSecret",
                params: ["name": .string("crm/token-\(index)"), "value": .string(value), "expectedVersion": 1])
        }
        _ = try await vault.client.call("vault.rotateKey")
        _ = try await vault.client.call("vault.deleteSecret", params: ["name": "crm/token-19"])

        func leaks(in files: [String: Data]) -> [String] {
            files.compactMap { name, bytes in values.contains(where: { bytes.contains($0) }) ? name : nil }.sorted()
        }
        // While running (the WAL and shm are live), then after a clean stop, and the daemon's log.
        let live = snapshot(vault.stack.stateDir)
        #expect(live.keys.contains { $0.hasSuffix("-wal") })
        #expect(leaks(in: live) == [])
        try vault.stack.stop("vault")
        #expect(leaks(in: snapshot(vault.stack.stateDir)) == [])
        #expect(leaks(in: ["vault.log": Data(vault.stack.log("vault").utf8)]) == [])
        vault.stack.removeFiles()
    }

    @Test func ciphertextsSwappedBetweenRowsFailWithATypedError() async throws {
        let vault = try VaultFixture()
        let alpha = Canary.value()
        let beta = Canary.value()
        try await vault.put("swap/alpha", alpha)
        try await vault.put("swap/beta", beta)
        try vault.stack.stop("vault")

        try sqlite3(
            vault.databasePath,
            """
            CREATE TEMP TABLE original AS SELECT name, sealed FROM secrets;
            UPDATE secrets SET sealed = (
                SELECT sealed FROM original
                WHERE original.name = CASE secrets.name WHEN 'swap/alpha' THEN 'swap/beta' ELSE 'swap/alpha' END)
            WHERE name IN ('swap/alpha', 'swap/beta');
            """)
        try vault.stack.start("vault")
        for name in ["swap/alpha", "swap/beta"] {
            let error = await vault.client.expectError("vault.getSecret", params: .object(["name": .string(name)]))
            #expect(error?.code == -32010)
            #expect(error?.name == "StorageFailure")
            #expect(error?.detail.contains(name) == true)
            #expect(error.map { !$0.detail.contains(alpha) && !$0.detail.contains(beta) } == true)
        }
        // An older version's ciphertext copied over the current one fails the same way.
        try await vault.put("swap/gamma", Canary.value())
        try vault.stack.stop("vault")
        let firstSealed = try sqlite3(vault.databasePath, "SELECT hex(sealed) FROM secrets WHERE name = 'swap/gamma';")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try vault.stack.start("vault")
        try await vault.put("swap/gamma", Canary.value())
        try vault.stack.stop("vault")
        try sqlite3(vault.databasePath, "UPDATE secrets SET sealed = X'\(firstSealed)' WHERE name = 'swap/gamma';")
        try vault.stack.start("vault")
        #expect(
            await vault.client.expectError("vault.getSecret", params: ["name": "swap/gamma"])?.name == "StorageFailure")
        // The vault keeps serving.
        #expect(try await vault.client.call("vault.listSecrets")["items"]?.arrayValue?.count == 3)
        vault.stack.removeFiles()
    }

    @Test func wrongMasterKeyRefusesToStartAndLeavesTheFilesByteIdentical() async throws {
        let vault = try VaultFixture()
        try await vault.put("meta/app-secret", Canary.value())
        try vault.stack.stop("vault")
        let before = snapshot(vault.stack.stateDir)
        #expect(before.keys.contains("vault/vault.sqlite"))

        try TestStack.randomBytes(32).write(to: URL(fileURLWithPath: "\(vault.stack.credentialsDir)/master-key"))
        let status = try startExpectingRefusal(vault.stack)
        #expect(status == 78)
        #expect(
            vault.stack.log("vault").contains(
                "credential 'master-key' is not the key this vault database was created with"))
        #expect(snapshot(vault.stack.stateDir) == before)
        vault.stack.removeFiles()
    }

    @Test(arguments: [0, 31, 33])
    func missingOrMalformedMasterKeyRefusesToStart(size: Int) async throws {
        let stack = try TestStack()
        let keyPath = "\(stack.credentialsDir)/master-key"
        if size == 0 {
            try FileManager.default.removeItem(atPath: keyPath)
        } else {
            try TestStack.randomBytes(size).write(to: URL(fileURLWithPath: keyPath))
        }
        #expect(try startExpectingRefusal(stack) == 78)
        let line = stack.log("vault").split(separator: "\n").first { $0.hasPrefix("leadline-vault:") }
        #expect(line?.contains("credential 'master-key'") == true)
        #expect(!FileManager.default.fileExists(atPath: stack.databasePath("vault")))
        stack.removeFiles()
    }

    /// Starts the vault, pokes its socket (socket activation runs it on the first connection)
    /// and returns its exit code.
    private func startExpectingRefusal(_ stack: TestStack) throws -> Int32? {
        let process = try stack.start("vault")
        let socket = try RawSocket(path: stack.socketPath("vault"))
        try? socket.send("{\"jsonrpc\":\"2.0\",\"method\":\"service.ping\",\"id\":1}\n")
        #expect(socket.isClosedByPeer())
        try process.waitForExit(timeout: 15)
        return process.exitCode
    }
}
