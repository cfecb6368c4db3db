import AuditCore
import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// Tampering with the stored chain, directly in SQLite, is detected every time.
@Suite struct AuditTamperTests {
    enum Mutation: String, CaseIterable {
        case edit, delete, insert, reorder
    }

    static let events = 200

    @Test func everyEditDeleteInsertAndReorderIsDetected() async throws {
        let audit = try AuditFixture(extraConfig: "[audit]\ncheckpoint_every_events = 25\n")
        try await audit.appendEvents(Self.events, batch: 10)
        let checkpoint = try await audit.client.call("audit.checkpoint")
        #expect(checkpoint["seq"] == .int(Int64(Self.events)))
        let verifier = try AuditSignatureVerifier(publicKeyHex: try #require(checkpoint["publicKey"]?.stringValue))
        try audit.stack.stop("audit")

        let work = "\(audit.stack.root)/tamper"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let pristine = "\(work)/pristine.sqlite"
        try copyDatabase(audit.databasePath, to: pristine)
        let untouched = try ChainVerifier.verify(databasePath: pristine, verifier: verifier)
        #expect(untouched.ok)
        #expect(untouched.events == Self.events)
        // Batches of 10 against a threshold of 25: at 30, 60, ... 180, and 200 on request.
        #expect(untouched.checkpoints == 7)

        var firstOfKind: [Mutation: (path: String, firstBadSeq: Int64?)] = [:]
        for mutation in Mutation.allCases {
            for round in 0..<25 {
                let copy = "\(work)/\(mutation)-\(round).sqlite"
                try copyDatabase(pristine, to: copy)
                let (description, expectedBadSeq) = try Self.apply(mutation, to: copy)
                let result = try ChainVerifier.verify(databasePath: copy, verifier: verifier)
                #expect(!result.ok, "undetected: \(description)")
                #expect(result.firstBadSeq != nil, "\(description)")
                if let expectedBadSeq {
                    #expect(result.firstBadSeq == expectedBadSeq, "\(description): \(result.detail ?? "")")
                }
                if firstOfKind[mutation] == nil { firstOfKind[mutation] = (copy, result.firstBadSeq) }
            }
        }

        // The daemon's audit.verify runs the same code: restart it on one tampered copy of each kind.
        for mutation in Mutation.allCases {
            let (copy, offlineBadSeq) = try #require(firstOfKind[mutation])
            try copyDatabase(copy, to: audit.databasePath)
            try audit.stack.start("audit")
            let answer = try await audit.stack.client("audit").call("audit.verify")
            #expect(answer["ok"] == false, "\(mutation)")
            #expect(answer["firstBadSeq"]?.intValue == offlineBadSeq, "\(mutation)")
            try audit.stack.stop("audit")
        }
        audit.stack.removeFiles()
    }

    /// Mutates one stored chain in place; returns what was done and, when it is certain, the
    /// seq verification must name first.
    static func apply(_ mutation: Mutation, to path: String) throws -> (String, Int64?) {
        let count = events
        switch mutation {
        case .edit:
            let seq = Int.random(in: 1...count)
            let edits = [
                ("time", "'2001-01-01T00:00:00.000Z'"), ("actor", "'vault'"), ("action", "action || 'x'"),
                ("subject", "subject || ' '"), ("outcome", "'failed'"), ("details", "'{\"attempt\":99}'"),
                ("prevHash", "'\(randomHex())'"), ("hash", "'\(randomHex())'"),
            ]
            let (column, value) = edits.randomElement()!
            try sqlite3(path, "UPDATE events SET \(column) = \(value) WHERE seq = \(seq);")
            return ("edit \(column) of \(seq)", Int64(seq))
        case .delete:
            let seq = Int.random(in: 1...count)
            try sqlite3(path, "DELETE FROM events WHERE seq = \(seq);")
            return ("delete \(seq)", Int64(seq))
        case .insert:
            // A forged event with a correct hash over its predecessor, at a random position
            // (the end included); later events are renumbered to make room.
            let seq = Int.random(in: 1...(count + 1))
            let previous =
                seq == 1
                ? CanonicalEncoding.zeroHash : try sqlite3(path, "SELECT hash FROM events WHERE seq = \(seq - 1);")
            let time = "2026-12-01T00:00:00.000Z"
            let canonical = CanonicalEncoding.eventBytes(
                seq: Int64(seq), time: time, actor: "vault", action: "vault.getSecret", subject: "forged",
                outcome: "ok",
                details: "{}", prevHash: previous)
            let hash = try #require(CanonicalEncoding.chainHash(prevHash: previous, canonical: canonical))
            try sqlite3(
                path,
                """
                UPDATE events SET seq = -seq WHERE seq >= \(seq);
                UPDATE events SET seq = 1 - seq WHERE seq < 0;
                INSERT INTO events (seq, time, actor, action, subject, outcome, details, prevHash, hash)
                VALUES (\(seq), '\(time)', 'vault', 'vault.getSecret', 'forged', 'ok', '{}', '\(previous)', '\(hash)');
                """)
            return ("insert at \(seq)", nil)
        case .reorder:
            let first = Int.random(in: 1..<count)
            let second = Bool.random() ? first + 1 : Int.random(in: (first + 1)...count)
            try sqlite3(
                path,
                """
                UPDATE events SET seq = -1 WHERE seq = \(first);
                UPDATE events SET seq = \(first) WHERE seq = \(second);
                UPDATE events SET seq = \(second) WHERE seq = -1;
                """)
            return ("swap \(first) and \(second)", Int64(first))
        }
    }

    static func randomHex() -> String {
        TestStack.randomBytes(32).map { String(format: "%02x", $0) }.joined()
    }
}
