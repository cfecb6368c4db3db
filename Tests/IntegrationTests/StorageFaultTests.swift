import Foundation
import LeadlineHTTP
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Storage faults through the real leadline-ingest: a full disk, a read-only state directory.
/// Each state directory is a small tmpfs of its own, unmounted on every path out of the test.
@Suite(
    .serialized,
    .enabled(
        if: ScratchMount.isPermitted,
        "needs to mount a tmpfs (root with CAP_SYS_ADMIN); a loop file would need the same privilege")
)
struct StorageFaultTests {
    @Test func aFullDiskRefusesWritesWithATypedErrorKeepsServingReadsAndRecovers() async throws {
        let ingest = try await IngestUnderTest()
        let scratch = try ScratchMount(at: ingest.stateDirectory, size: "4m")
        defer {
            ingest.stack.stopAll()
            scratch.unmount()
        }
        try await ingest.start()
        var acknowledgedChanges: [String] = []
        var acknowledgedLeads: [String] = []

        let early = IngestUnderTest.leadgenIDs(batch: 0, count: 20)
        #expect(try await ingest.postWebhook(early).status == 200)
        acknowledgedChanges += early
        acknowledgedLeads.append(try await ingest.submitLead(0))

        let ballast = try scratch.fill()
        // Space SQLite already holds may take a small write or two; a full batch cannot fit.
        var refusedStatus: Int?
        var refusedBatch: [String] = []
        for round in 0..<10 {
            let batch = IngestUnderTest.leadgenIDs(batch: 1 + round, count: 1000)
            let response = try await ingest.postWebhook(batch)
            guard response.status == 200 else {
                refusedStatus = response.status
                refusedBatch = batch
                break
            }
            acknowledgedChanges += batch
        }
        // Meta retries any non-2xx for 36 hours: an error loses nothing, a 200 for changes that
        // were not stored would lose them.
        #expect(
            refusedStatus == 503,
            "webhook answered \(String(describing: refusedStatus))")
        var refusal: RPCError?
        var refusedIndex = 0
        for index in 1...300 {
            do {
                acknowledgedLeads.append(try await ingest.submitLead(index))
            } catch let error as RPCError {
                refusal = error
                refusedIndex = index
                break
            }
        }
        #expect(refusal?.name == "StorageFailure", "submitLead answered \(String(describing: refusal))")

        let rpc = ingest.rpc
        #expect(try await rpc.call("service.ping")["pong"] == true)
        #expect(try await rpc.call("ingest.getLead", params: ["id": .string(acknowledgedLeads[0])])["id"] != nil)
        #expect(try await rpc.call("ingest.stats")["leads"]?.intValue == Int64(acknowledgedLeads.count))
        #expect(ingest.stack.process("ingest")?.isRunning == true)

        // With space again, the retries Meta and a submitter make go through; the refused writes
        // left nothing behind that would turn them into duplicates.
        try FileManager.default.removeItem(atPath: ballast)
        #expect(try await ingest.postWebhook(refusedBatch).status == 200)
        acknowledgedChanges += refusedBatch
        let retried = try await rpc.call("ingest.submitLead", params: IngestUnderTest.submission(refusedIndex))
        #expect(retried["duplicate"] == false)
        acknowledgedLeads += [retried["id"]?.stringValue ?? "missing"]
        #expect(try await ingest.get("/healthz").status == 200)

        // Nothing acknowledged is lost, read from the file once the daemon has stopped cleanly.
        try ingest.stack.stop("ingest")
        let database = ingest.stack.databasePath("ingest")
        let storedChanges = Set(
            try sqlite3(database, "SELECT leadgen_id FROM inbox").split(separator: "\n").map(String.init))
        let storedLeads = Set(try sqlite3(database, "SELECT id FROM leads").split(separator: "\n").map(String.init))
        #expect(Set(acknowledgedChanges).subtracting(storedChanges).isEmpty)
        #expect(Set(acknowledgedLeads).subtracting(storedLeads).isEmpty)
        ingest.stack.stopAll()
        scratch.unmount()
        ingest.stack.removeFiles()
    }

    /// Started on a read-only state directory, the daemon stops with exit 78 and one line that
    /// names the directory, and leaves an existing database as it was.
    @Test(arguments: [false, true])
    func aReadOnlyStateDirectoryStopsTheDaemonWithOneLineNamingIt(withExistingDatabase: Bool) async throws {
        let ingest = try await IngestUnderTest(vault: false)
        let scratch = try ScratchMount(at: ingest.stateDirectory, size: "4m")
        defer {
            ingest.stack.stopAll()
            scratch.unmount()
        }
        var leadId: String?
        if withExistingDatabase {
            try await ingest.start()
            leadId = try await ingest.submitLead(1)
            try ingest.stack.stop("ingest")
        }
        let database = ingest.stack.databasePath("ingest")
        let before = FileManager.default.contents(atPath: database)
        try scratch.remount(readOnly: true)

        let run = try DaemonRun.byHand("ingest", stack: ingest.stack)
        #expect(run.exitCode == 78)
        #expect(
            run.errorLine
                == "leadline-ingest: state directory \(ingest.stateDirectory) is not writable (Read-only file system)",
            "\(run.output)")
        #expect(FileManager.default.contents(atPath: database) == before)

        if let leadId {
            try scratch.remount(readOnly: false)
            try await ingest.start()
            #expect(
                try await ingest.rpc.call("ingest.getLead", params: ["id": .string(leadId)])["id"] == .string(leadId))
        }
        ingest.stack.stopAll()
        scratch.unmount()
        ingest.stack.removeFiles()
    }
}
