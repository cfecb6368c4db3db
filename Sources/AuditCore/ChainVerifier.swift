import Foundation
import GRDB

/// audit.verify's answer.
public struct ChainVerification: Codable, Sendable, Hashable {
    public var ok: Bool
    public var events: Int
    public var checkpoints: Int
    public var firstBadSeq: Int64?
    public var detail: String?
}

/// Recomputes the chain from the anchor (or seq 1), checks every checkpoint signature and that
/// each checkpoint matches the event it names, and checks the signed head against the last
/// event. The daemon's audit.verify and offline checks of a copied database run this same code.
public enum ChainVerifier {
    /// Opens a database file read-only (its folder must be writable for SQLite's WAL index).
    public static func verify(databasePath: String, verifier: AuditSignatureVerifier) throws -> ChainVerification {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: databasePath, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in try verify(db, verifier: verifier) }
    }

    public static func verify(_ db: Database, verifier: AuditSignatureVerifier) throws -> ChainVerification {
        var problems: [(seq: Int64, detail: String)] = []
        func problem(_ seq: Int64, _ detail: String) { problems.append((max(seq, 1), detail)) }

        var expectedSeq: Int64 = 1
        var previousHash = CanonicalEncoding.zeroHash
        if let anchor = try Row.fetchOne(db, sql: "SELECT seq, hash, signature FROM anchor WHERE id = 1") {
            let seq: Int64 = anchor["seq"]
            let hash: String = anchor["hash"]
            if !verifier.isValid(
                anchor["signature"], for: CanonicalEncoding.markerBytes("anchor", seq: seq, hash: hash))
            {
                problem(seq + 1, "the retention anchor's signature is invalid")
            }
            expectedSeq = seq + 1
            previousHash = hash
        }
        let anchorSeq = expectedSeq - 1

        var checkpointHashes: [Int64: String] = [:]
        var checkpoints = 0
        for row in try Row.fetchAll(db, sql: "SELECT seq, time, hash, signature FROM checkpoints ORDER BY seq") {
            let seq: Int64 = row["seq"]
            // Checkpoints at or before the anchor cover pruned events: nothing left to compare.
            guard seq > anchorSeq else { continue }
            checkpoints += 1
            let hash: String = row["hash"]
            let bytes = CanonicalEncoding.checkpointBytes(seq: seq, time: row["time"], hash: hash)
            if !verifier.isValid(row["signature"], for: bytes) {
                problem(seq, "checkpoint \(seq) has an invalid signature")
            }
            checkpointHashes[seq] = hash
        }

        let scan = try EventScan.run(
            db, afterSeq: anchorSeq, startingHash: previousHash, checkpointHashes: checkpointHashes)
        let events = scan.events
        let lastSeq = scan.lastSeq
        previousHash = scan.lastHash
        let chainBroken = scan.problem != nil
        if let broken = scan.problem { problem(broken.seq, broken.detail) }
        for seq in scan.checkpointMismatches { problem(seq, "checkpoint \(seq) does not match event \(seq)") }

        if !chainBroken {
            if let beyond = checkpointHashes.keys.filter({ $0 > lastSeq }).min() {
                problem(lastSeq + 1, "checkpoint \(beyond) names events that are missing")
            }
            if let head = try Row.fetchOne(db, sql: "SELECT seq, hash, signature FROM chain_head WHERE id = 1") {
                let seq: Int64 = head["seq"]
                let hash: String = head["hash"]
                if !verifier.isValid(
                    head["signature"], for: CanonicalEncoding.markerBytes("head", seq: seq, hash: hash))
                {
                    problem(min(seq, lastSeq + 1), "the chain head's signature is invalid")
                } else if seq != lastSeq {
                    problem(min(seq, lastSeq) + 1, "the signed head is at seq \(seq) but the chain ends at \(lastSeq)")
                } else if hash != previousHash {
                    problem(seq, "the signed head does not match event \(seq)")
                }
            } else if lastSeq > 0 {
                problem(1, "the signed chain head is missing")
            }
        }

        guard let first = problems.min(by: { $0.seq < $1.seq }) else {
            return ChainVerification(ok: true, events: events, checkpoints: checkpoints, firstBadSeq: nil, detail: nil)
        }
        return ChainVerification(
            ok: false, events: events, checkpoints: checkpoints, firstBadSeq: first.seq,
            detail: String(first.detail.prefix(2000)))
    }
}
