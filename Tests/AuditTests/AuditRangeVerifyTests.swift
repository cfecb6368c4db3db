import Foundation
import LeadlineRPC
import LeadlineRuntime
import LeadlineStorage
import LeadlineTestSupport
import Logging
import Testing

@testable import AuditCore

/// Verification split into ranges of seq, read at once in one snapshot, must give exactly the
/// answer of one pass (first bad seq, detail and counts included), wherever the ranges end.
@Suite struct AuditRangeVerifyTests {
    /// A range per few events, far more ranges than cores, so that every kind of damage falls on
    /// a join between ranges somewhere.
    static func split(_ parts: Int) -> ChainVerifier.Options {
        ChainVerifier.Options(maxParts: parts, eventsPerPart: 1)
    }
    static let onePass = ChainVerifier.Options(maxParts: 1, eventsPerPart: 1)
    static let splits = [2, 3, 7, 16, 64]

    @Test func automaticSplitUsesAtMostTheAvailableCores() {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #expect(ChainVerifier.Options.automatic.maxParts == cores)
        for last: Int64 in [0, 1, 1000, 16_384, 100_000, 10_000_000, .max] {
            let bounds = ChainVerifier.bounds(firstSeq: 1, lastSeq: last, options: .automatic)
            #expect(bounds.count + 1 <= cores)
            #expect(bounds == bounds.sorted())
        }
        // Small logs stay in one pass: a reader's start-up would cost more than it saves.
        #expect(ChainVerifier.bounds(firstSeq: 1, lastSeq: 1000, options: .automatic).isEmpty)
        #expect(ChainVerifier.bounds(firstSeq: nil, lastSeq: nil, options: Self.split(8)).isEmpty)
        // Seqs so far apart that their distance overflows: one pass.
        #expect(ChainVerifier.bounds(firstSeq: .min, lastSeq: .max, options: Self.split(8)).isEmpty)
    }

    @Test func everyMutationGetsTheSameAnswerInRangesAsInOnePass() async throws {
        let audit = try AuditFixture(extraConfig: "[audit]\ncheckpoint_every_events = 25\n")
        try await audit.appendEvents(AuditTamperTests.events, batch: 10)
        let checkpoint = try await audit.client.call("audit.checkpoint")
        let verifier = try AuditSignatureVerifier(publicKeyHex: try #require(checkpoint["publicKey"]?.stringValue))
        try audit.stack.stop("audit")
        let work = "\(audit.stack.root)/ranges"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let pristine = "\(work)/pristine.sqlite"
        try copyDatabase(audit.databasePath, to: pristine)

        for parts in Self.splits {
            let split = try ChainVerifier.verify(databasePath: pristine, verifier: verifier, options: Self.split(parts))
            #expect(split == ChainVerification(ok: true, events: 200, checkpoints: 7, firstBadSeq: nil, detail: nil))
        }
        for mutation in AuditTamperTests.Mutation.allCases {
            for round in 0..<8 {
                let copy = "\(work)/\(mutation)-\(round).sqlite"
                try copyDatabase(pristine, to: copy)
                let (description, _) = try AuditTamperTests.apply(mutation, to: copy)
                let expected = try ChainVerifier.verify(databasePath: copy, verifier: verifier, options: Self.onePass)
                #expect(!expected.ok, "undetected: \(description)")
                for parts in Self.splits {
                    let split = try ChainVerifier.verify(
                        databasePath: copy, verifier: verifier, options: Self.split(parts))
                    #expect(split == expected, "\(description), \(parts) ranges")
                }
            }
        }
        audit.stack.removeFiles()
    }

    /// Damage placed exactly at the ends of ranges: the last event of one and the first of the
    /// next, for every kind of mutation, and checkpoints on either side of a join.
    @Test func damageAtTheJoinsIsFoundAtTheSameSeq() async throws {
        let audit = try AuditFixture(extraConfig: "[audit]\ncheckpoint_every_events = 25\n")
        try await audit.appendEvents(AuditTamperTests.events, batch: 10)
        let checkpoint = try await audit.client.call("audit.checkpoint")
        let verifier = try AuditSignatureVerifier(publicKeyHex: try #require(checkpoint["publicKey"]?.stringValue))
        let signer = try AuditSigner(
            rawPrivateKey: [UInt8](
                Data(contentsOf: URL(fileURLWithPath: "\(audit.stack.credentialsDir)/audit-signing-key"))))
        try audit.stack.stop("audit")
        let work = "\(audit.stack.root)/joins"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let pristine = "\(work)/pristine.sqlite"
        try copyDatabase(audit.databasePath, to: pristine)
        let checkpointSeqs = try sqlite3(pristine, "SELECT seq FROM checkpoints ORDER BY seq;")
            .split(separator: "\n").compactMap { Int64($0) }
        #expect(checkpointSeqs == [30, 60, 90, 120, 150, 180, 200])

        // 13 ranges end at 15, 30, 45, ...: checkpoints are the last event of a range; with 6
        // ranges (ends 33, 66, ...) they are inside; 19 ranges end at 10, 20, 30, ...
        var joins: Set<Int64> = []
        for parts in [6, 13, 19] {
            let bounds = ChainVerifier.bounds(firstSeq: 1, lastSeq: 200, options: Self.split(parts))
            #expect(bounds.count == parts - 1)
            joins.formUnion(bounds)
        }
        #expect(joins.isSuperset(of: [30, 60, 90, 120, 150, 180]))
        let hashAt = { (seq: Int64) in try sqlite3(pristine, "SELECT hash FROM events WHERE seq = \(seq);") }
        let forged = String(repeating: "ab", count: 32)

        var cases: [(String, String)] = []
        for join in joins.sorted() {
            for seq in [join, join + 1] {
                cases += [
                    ("edit prevHash of \(seq)", "UPDATE events SET prevHash = '\(forged)' WHERE seq = \(seq);"),
                    ("edit subject of \(seq)", "UPDATE events SET subject = subject || 'x' WHERE seq = \(seq);"),
                    ("delete \(seq)", "DELETE FROM events WHERE seq = \(seq);"),
                ]
            }
            cases += [
                (
                    "swap \(join) and \(join + 1)",
                    """
                    UPDATE events SET seq = -1 WHERE seq = \(join);
                    UPDATE events SET seq = \(join) WHERE seq = \(join + 1);
                    UPDATE events SET seq = \(join + 1) WHERE seq = -1;
                    """
                ),
                (
                    "a signed checkpoint at \(join) that names another hash",
                    try Self.checkpointSQL(seq: join, hash: hashAt(join - 1), signer: signer)
                ),
                (
                    "a signed checkpoint at \(join + 1) that names another hash",
                    try Self.checkpointSQL(seq: join + 1, hash: hashAt(join), signer: signer)
                ),
            ]
            if checkpointSeqs.contains(join) {
                cases.append(
                    (
                        "a checkpoint at \(join) with a bad signature",
                        "UPDATE checkpoints SET signature = '\(forged)\(forged)' WHERE seq = \(join);"
                    ))
            }
        }
        cases += [
            ("an event before the first", "UPDATE events SET seq = 0 WHERE seq = 1;"),
            ("an event after a gap at the end", "UPDATE events SET seq = 1000 WHERE seq = 200;"),
            ("the last two removed", "DELETE FROM events WHERE seq > 198;"),
            ("a checkpoint beyond the end", try Self.checkpointSQL(seq: 250, hash: hashAt(200), signer: signer)),
            ("a checkpoint removed", "DELETE FROM checkpoints WHERE seq = 90;"),
            ("the head removed", "DELETE FROM chain_head;"),
            ("everything removed", "DELETE FROM events;"),
        ]

        for (index, (description, sql)) in cases.enumerated() {
            let copy = "\(work)/case-\(index).sqlite"
            try copyDatabase(pristine, to: copy)
            _ = try sqlite3(copy, sql)
            let expected = try ChainVerifier.verify(databasePath: copy, verifier: verifier, options: Self.onePass)
            if !description.hasPrefix("a checkpoint removed") {
                #expect(!expected.ok, "undetected: \(description)")
            }
            for parts in [6, 13, 19] {
                let split = try ChainVerifier.verify(databasePath: copy, verifier: verifier, options: Self.split(parts))
                #expect(split == expected, "\(description), \(parts) ranges")
            }
            try? FileManager.default.removeItem(atPath: copy)
        }
        audit.stack.removeFiles()
    }

    static func checkpointSQL(seq: Int64, hash: String, signer: AuditSigner) throws -> String {
        let time = "2026-12-01T00:00:00.000Z"
        let signature = try signer.sign(CanonicalEncoding.checkpointBytes(seq: seq, time: time, hash: hash))
        return "INSERT OR REPLACE INTO checkpoints VALUES (\(seq), '\(time)', '\(hash)', '\(signature)');"
    }

    // MARK: in process, on the daemon's own kind of pool

    @Test func anEmptyLogVerifiesInRangesAndInOnePass() async throws {
        let ledger = try InProcessLedger()
        let empty = ChainVerification(ok: true, events: 0, checkpoints: 0, firstBadSeq: nil, detail: nil)
        #expect(try await ledger.ledger.verify() == empty)
        for parts in Self.splits {
            #expect(try await ledger.verify(Self.split(parts)) == empty)
        }
        try ledger.storage.close()
        #expect(try ChainVerifier.verify(databasePath: ledger.path, verifier: ledger.verifier) == empty)
        #expect(
            try ChainVerifier.verify(databasePath: ledger.path, verifier: ledger.verifier, options: Self.split(8))
                == empty)
        ledger.remove(closed: true)
    }

    @Test func aChainAfterRetentionPruningVerifiesFromItsAnchorInRanges() async throws {
        let ledger = try InProcessLedger(checkpointEvery: 7)
        try await ledger.append(120, time: "2026-01-01T00:00:00.000Z")
        try await ledger.append(80, time: nil)
        let pruned = try await ledger.ledger.prune(olderThanDays: 30, now: Date())
        #expect(pruned == 120)
        try await ledger.append(40, time: nil)
        let anchor = try await ledger.storage.read { db in try Int64.fetchOne(db, sql: "SELECT seq FROM anchor") }
        #expect(anchor == 120)

        let onePass = try await ledger.verify(Self.onePass)
        #expect(onePass.ok)
        #expect(onePass.events == 121)
        for parts in Self.splits {
            #expect(try await ledger.verify(Self.split(parts)) == onePass)
        }
        #expect(try await ledger.ledger.verify() == onePass)

        // Offline, on a copy in rollback-journal mode as well as in WAL mode.
        try ledger.storage.close()
        let journal = ledger.path + "-journal-mode.sqlite"
        try copyDatabase(ledger.path, to: journal)
        _ = try sqlite3(journal, "PRAGMA journal_mode = DELETE;")
        for parts in Self.splits {
            #expect(
                try ChainVerifier.verify(databasePath: journal, verifier: ledger.verifier, options: Self.split(parts))
                    == onePass)
        }

        // A damaged anchor and the first event after it are found at the same seq either way.
        let work = ledger.path + "-damaged"
        for (index, sql) in [
            "UPDATE anchor SET hash = '\(String(repeating: "1", count: 64))';",
            "UPDATE anchor SET hash = 'not hex';",
            "UPDATE events SET prevHash = '\(String(repeating: "2", count: 64))' WHERE seq = 121;",
            "UPDATE anchor SET signature = '00';",
            "DELETE FROM events WHERE seq = 121;",
            "UPDATE events SET seq = 100 WHERE seq = 121;",
        ].enumerated() {
            let copy = "\(work)-\(index).sqlite"
            try copyDatabase(ledger.path, to: copy)
            _ = try sqlite3(copy, sql)
            let expected = try ChainVerifier.verify(
                databasePath: copy, verifier: ledger.verifier, options: Self.onePass)
            #expect(!expected.ok, "undetected: \(sql)")
            for parts in Self.splits {
                let split = try ChainVerifier.verify(
                    databasePath: copy, verifier: ledger.verifier, options: Self.split(parts))
                #expect(split == expected, "\(sql), \(parts) ranges")
            }
        }
        ledger.remove(closed: true)
    }

    /// Appends and retention pruning while verification runs in ranges: every range reads the
    /// same snapshot, so an intact chain is never reported broken by a write that fell between
    /// the ranges' starts.
    @Test func writesDuringARangedVerifyNeverBreakIt() async throws {
        let ledger = try InProcessLedger(checkpointEvery: 5)
        defer { ledger.remove() }
        try await ledger.append(200, time: "2026-01-01T00:00:00.000Z")
        let writes = Task {
            for round in 0..<30 {
                try await ledger.append(13, time: round.isMultiple(of: 2) ? "2026-01-01T00:00:00.000Z" : nil)
                if round.isMultiple(of: 5) {
                    _ = try await ledger.ledger.prune(olderThanDays: 30, now: Date())
                }
            }
        }
        var verified = 0
        while !writes.isCancelled {
            let result = try await ledger.verify(Self.split(4))
            #expect(result.ok, "\(result.detail ?? "")")
            verified += 1
            if verified >= 40 { break }
        }
        try await writes.value
        #expect(try await ledger.verify(Self.split(4)).ok)
    }
}

extension AuditRangeVerifyTests {
    /// Verifications asked for at once take their turns (each holds a reader per core) and all
    /// answer, appends going on meanwhile.
    @Test func verificationsAskedForAtOnceAllAnswer() async throws {
        let ledger = try InProcessLedger(checkpointEvery: 10)
        try await ledger.append(100, time: nil)
        try await withThrowingTaskGroup(of: ChainVerification?.self) { group in
            for _ in 0..<8 {
                group.addTask { try await ledger.ledger.verify() }
            }
            group.addTask {
                try await ledger.append(50, time: nil)
                return nil
            }
            for try await result in group {
                if let result { #expect(result.ok, "\(result.detail ?? "")") }
            }
        }
        #expect(try await ledger.ledger.verify().events == 150)
        ledger.remove()
    }
}

/// An audit ledger in this process, on a Storage like the daemon's, with a known signing key.
struct InProcessLedger {
    let root: String
    let path: String
    let storage: Storage
    let ledger: AuditLedger
    let verifier: AuditSignatureVerifier

    init(checkpointEvery: Int = 1000) throws {
        root = NSTemporaryDirectory() + "audit-ranges-\(UUID().uuidString)"
        path = root + "/audit.sqlite"
        storage = try Storage(path: path, migrations: AuditSchema.migrations)
        let signer = try AuditSigner(rawPrivateKey: [UInt8](TestStack.randomBytes(32)))
        verifier = signer.verifier
        ledger = AuditLedger(
            storage: storage, signer: signer, clock: DaemonClock(), checkpointEveryEvents: checkpointEvery,
            logger: Logger(label: "audit-ranges-test"))
    }

    func append(_ count: Int, time: String?) async throws {
        var done = 0
        while done < count {
            let size = min(25, count - done)
            let events = (0..<size).map { index in
                IncomingAuditEvent(
                    time: time, action: "ingest.leadStored", subject: "lead-\(done + index)", outcome: "ok",
                    details: ["attempt": .int(Int64(index % 3)), "note": .string("a \"quoted\"\tline\n")])
            }
            _ = try await ledger.append(events, actor: "uid:0(root)")
            done += size
        }
    }

    func verify(_ options: ChainVerifier.Options) async throws -> ChainVerification {
        try await ChainVerifier.verify(pool: storage.pool, verifier: verifier, options: options)
    }

    /// Closes the database (unless `closed`: closing twice is an error) and removes its folder.
    func remove(closed: Bool = false) {
        if !closed { try? storage.close() }
        try? FileManager.default.removeItem(atPath: root)
    }
}
