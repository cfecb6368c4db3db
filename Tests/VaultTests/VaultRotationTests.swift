import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// Key rotation is online: readers and writers keep going and nothing is lost.
@Suite struct VaultRotationTests {
    @Test func rotationDuringConcurrentReadsAndWritesLosesNothing() async throws {
        let vault = try VaultFixture()
        let count = 80
        var expected: [String: String] = [:]
        for index in 0..<count {
            let value = Canary.value()
            expected["rot/\(index)"] = value
            try await vault.put("rot/\(index)", value)
        }
        let readers = (0..<4).map { _ in RecordingClient(service: "vault", socketPath: vault.stack.socketPath("vault"))
        }
        let snapshot = expected
        let stop = Flag()

        // Readers check every value they get against the expected digest (never the value itself).
        let readerTasks = readers.enumerated().map { offset, client in
            Task { () -> (reads: Int, problems: Int) in
                var reads = 0
                var problems = 0
                var index = offset
                while !stop.isSet || reads < 50 {
                    index = (index + 7) % count
                    let name = "rot/\(index)"
                    // The first 10 secrets are rewritten by the writer below; any of its versions is fine.
                    if index < 10 {
                        do {
                            _ = try await client.call("vault.getSecret", params: .object(["name": .string(name)]))
                        } catch { problems += 1 }
                    } else {
                        do {
                            let value = try await client.call(
                                "vault.getSecret", params: .object(["name": .string(name)]))
                            if Canary.digest(value["value"]?.stringValue) != Canary.digest(snapshot[name]) {
                                problems += 1
                            }
                        } catch {
                            problems += 1
                        }
                    }
                    reads += 1
                }
                return (reads, problems)
            }
        }
        // A writer refreshes ten secrets with compare-and-swap while keys rotate.
        let writer = RecordingClient(service: "vault", socketPath: vault.stack.socketPath("vault"))
        let writerTask = Task { () -> [String: String] in
            var written: [String: String] = [:]
            var round = 1
            while !stop.isSet {
                for index in 0..<10 {
                    let value = Canary.value()
                    let result = try? await writer.call(
                        "vault.updateSecret",
                        params: [
                            "name": .string("rot/\(index)"), "value": .string(value),
                            "expectedVersion": .int(Int64(round)),
                        ])
                    if result != nil { written["rot/\(index)"] = value }
                }
                round += 1
            }
            return written
        }

        let first = try await vault.client.call("vault.rotateKey")
        #expect(first["keyVersion"] == 2)
        #expect(first["reencrypted"]?.intValue ?? 0 >= Int64(count - 10))
        let second = try await vault.client.call("vault.rotateKey")
        #expect(second["keyVersion"] == 3)
        stop.set()
        var totalReads = 0
        for task in readerTasks {
            let outcome = await task.value
            totalReads += outcome.reads
            #expect(outcome.problems == 0)
        }
        #expect(totalReads >= 200)
        let written = await writerTask.value
        expected.merge(written) { $1 }

        let list = try await vault.client.call("vault.listSecrets")
        #expect(list["items"]?.arrayValue?.allSatisfy { $0["keyVersion"] == 3 } == true)
        #expect(list["items"]?.arrayValue?.count == count)
        for (name, value) in expected {
            #expect(Canary.digest(try await vault.value(of: name)) == Canary.digest(value), "secret \(name)")
        }
        // Retired keys leave the keyring; a restart unwraps only what is left and reads everything.
        try vault.restart()
        let status = try await vault.client.call("vault.status")
        #expect(status["keyVersion"] == 3)
        #expect(status["lastRotationAt"] != nil)
        for (name, value) in expected {
            #expect(Canary.digest(try await vault.value(of: name)) == Canary.digest(value), "secret \(name)")
        }
        try vault.stack.stop("vault")
        #expect(
            try sqlite3(vault.databasePath, "SELECT group_concat(version) FROM keyring;").trimmingCharacters(
                in: .whitespacesAndNewlines) == "3")
        vault.stack.removeFiles()
    }

    @Test func rotatesAutomaticallyAfterTheConfiguredNumberOfEncryptions() async throws {
        let vault = try VaultFixture(extraConfig: "[vault]\nrotate_after_encryptions = 3\n")
        let values = (0..<3).map { _ in Canary.value() }
        for (index, value) in values.enumerated() { try await vault.put("auto/\(index)", value) }
        try await eventually(timeout: 15) {
            try await vault.client.call("vault.status")["keyVersion"] == 2
        }
        let status = try await vault.client.call("vault.status")
        #expect(status["encryptionsSinceRotation"] == 0)
        for (index, value) in values.enumerated() {
            #expect(Canary.digest(try await vault.value(of: "auto/\(index)")) == Canary.digest(value))
        }
        vault.stack.removeFiles()
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
