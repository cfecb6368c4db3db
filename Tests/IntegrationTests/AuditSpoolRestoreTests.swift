import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// An operator restores a daemon's database from a backup. The audit daemon has already seen
/// the spool positions the restored database will hand out again; the events spooled after the
/// restore must still all be recorded, none skipped as a resend.
@Suite struct AuditSpoolRestoreTests {
    private func put(_ name: String, on vault: RecordingClient) async throws {
        _ = try await vault.call(
            "vault.putSecret", params: ["name": .string(name), "value": "not-a-real-token", "readers": ["router"]])
    }

    private func recorded(_ name: String, in audit: RecordingClient) async throws -> Int {
        let events = try await audit.call("audit.query", params: ["subject": .string(name)])
        return events["items"]?.arrayValue?.count ?? 0
    }

    @Test func eventsSpooledAfterARestoreAreAllRecorded() async throws {
        let stack = try TestStack()
        defer { stack.removeFiles() }
        try stack.start("audit")
        try stack.start("vault")
        let audit = stack.client("audit")
        try await put("restore/before", on: stack.client("vault"))
        try await eventually(timeout: 20) { try await recorded("restore/before", in: audit) == 1 }

        // The backup, taken while the vault is stopped.
        try stack.stop("vault")
        let database = stack.databasePath("vault")
        let backup = stack.root + "/vault-backup"
        try FileManager.default.createDirectory(atPath: backup, withIntermediateDirectories: true)
        let files = ["", "-wal", "-shm"].map { database + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
        for file in files {
            try FileManager.default.copyItem(atPath: file, toPath: backup + "/" + (file as NSString).lastPathComponent)
        }

        // Life goes on after the backup: these events take the spool positions past it.
        try stack.start("vault")
        for index in 1...5 { try await put("restore/lost-timeline-\(index)", on: stack.client("vault")) }
        try await eventually(timeout: 20) { try await recorded("restore/lost-timeline-5", in: audit) == 1 }
        try stack.stop("vault")

        // The restore: the database as it was at the backup.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        for file in files {
            try FileManager.default.copyItem(atPath: backup + "/" + (file as NSString).lastPathComponent, toPath: file)
        }
        try stack.start("vault")
        for index in 1...5 { try await put("restore/after-\(index)", on: stack.client("vault")) }
        try await eventually(timeout: 20) {
            var found = 0
            for index in 1...5 { found += try await recorded("restore/after-\(index)", in: audit) }
            return found == 5
        }
        // Nothing twice, and the chain still verifies.
        #expect(try await recorded("restore/before", in: audit) == 1)
        #expect(try await recorded("restore/lost-timeline-3", in: audit) == 1)
        #expect(try await audit.call("audit.verify")["ok"] == true)
    }
}
