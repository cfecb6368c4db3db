import Crypto
import GRDB
import GRDBSQLite
import LeadlineRPC

/// The event half of verification, on SQLite's own column buffers: no String, Row or hex
/// string per event, one reused canonical buffer, hashes compared as 32 raw bytes. Reading
/// each event through GRDB rows and Strings cost ~9 µs an event; verify must read every one.
struct EventScan {
    struct Outcome {
        var events = 0
        var lastSeq: Int64
        /// The last event's hash (hex), or the starting hash when there were no events.
        var lastHash: String
        var problem: (seq: Int64, detail: String)?
        var checkpointMismatches: [Int64] = []
    }

    static func run(
        _ db: Database, afterSeq anchorSeq: Int64, startingHash: String, checkpointHashes: [Int64: String]
    ) throws -> Outcome {
        var outcome = Outcome(lastSeq: anchorSeq, lastHash: startingHash)
        guard var previous = Hex.decode(startingHash), previous.count == 32 else {
            outcome.problem = (anchorSeq + 1, "the chain's starting hash is malformed")
            return outcome
        }
        // In seq order, met by a moving index: a dictionary lookup per event cost more than its hash.
        let checkpoints = checkpointHashes.sorted { $0.key < $1.key }.map { ($0.key, Hex.decode($0.value) ?? []) }
        var nextCheckpoint = 0

        let statement = try db.makeStatement(
            sql: "SELECT seq, time, actor, action, subject, outcome, details, prevHash, hash FROM events ORDER BY seq")
        let raw = statement.sqliteStatement
        var canonical = CanonicalBuffer(capacity: 1024)
        var expectedSeq = anchorSeq + 1
        var stored = [UInt8](repeating: 0, count: 32)
        defer { sqlite3_reset(raw) }
        while true {
            let code = sqlite3_step(raw)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: code)) }
            let seq = sqlite3_column_int64(raw, 0)
            outcome.events += 1
            if seq != expectedSeq {
                outcome.problem = (
                    min(seq, expectedSeq),
                    "expected seq \(expectedSeq), found \(seq) (an event was removed or inserted)"
                )
                return outcome
            }
            guard Self.decodeHex(column(raw, 7), into: &stored), stored == previous else {
                outcome.problem = (seq, "event \(seq) does not follow its predecessor (prevHash differs)")
                return outcome
            }
            canonical.removeAll()
            CanonicalEncoding.appendEvent(
                seq: seq, time: column(raw, 1), actor: column(raw, 2), action: column(raw, 3),
                subject: column(raw, 4), outcome: column(raw, 5), details: column(raw, 6), prevHash: column(raw, 7),
                to: &canonical)
            var hasher = SHA256()
            hasher.update(data: previous)
            canonical.withBytes { hasher.update(bufferPointer: $0) }
            let digest = hasher.finalize()
            guard Self.decodeHex(column(raw, 8), into: &stored), stored.elementsEqual(digest) else {
                outcome.problem = (seq, "event \(seq) was altered (its hash does not match its content)")
                return outcome
            }
            while nextCheckpoint < checkpoints.count && checkpoints[nextCheckpoint].0 < seq { nextCheckpoint += 1 }
            if nextCheckpoint < checkpoints.count, checkpoints[nextCheckpoint].0 == seq,
                !checkpoints[nextCheckpoint].1.elementsEqual(digest)
            {
                outcome.checkpointMismatches.append(seq)
            }
            swap(&previous, &stored)
            outcome.lastSeq = seq
            expectedSeq = seq + 1
        }
        if outcome.events > 0 { outcome.lastHash = Hex.encode(previous) }
        return outcome
    }

    /// A text column's bytes, valid until the next step; empty for NULL.
    private static func column(_ statement: OpaquePointer, _ index: Int32) -> UnsafeBufferPointer<UInt8> {
        guard let text = sqlite3_column_text(statement, index) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, index)))
    }

    /// 64 lower-case hex digits into 32 bytes; false for anything else.
    private static func decodeHex(_ text: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        guard text.count == 64 else { return false }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: return nil
            }
        }
        for index in 0..<32 {
            guard let high = nibble(text[2 * index]), let low = nibble(text[2 * index + 1]) else { return false }
            out[index] = high << 4 | low
        }
        return true
    }
}
