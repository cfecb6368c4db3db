import Crypto
import Foundation
import GRDB
import GRDBSQLite
import LeadlineRPC

/// The event half of verification, on SQLite's own column buffers: no String, Row or allocation
/// per event, one reused canonical buffer. Stored hashes are compared as text with the
/// lower-case hex of what was computed, which holds exactly when they decode to it; so no
/// stored hash is ever decoded. Reading each event through GRDB rows and Strings cost ~9 µs an
/// event; verify must read every one.
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
        guard let starting = Hex.decode(startingHash), starting.count == 32 else {
            outcome.problem = (anchorSeq + 1, "the chain's starting hash is malformed")
            return outcome
        }
        // In seq order, met by a moving index: a dictionary lookup per event cost more than its hash.
        let checkpoints = checkpointHashes.sorted { $0.key < $1.key }.map { ($0.key, Hex.decode($0.value) ?? []) }
        var nextCheckpoint = 0

        let statement = try db.makeStatement(
            sql: "SELECT seq, time, actor, action, subject, outcome, details, prevHash, hash FROM events ORDER BY seq")
        let raw = statement.sqliteStatement
        defer { sqlite3_reset(raw) }

        var canonical = CanonicalBuffer(capacity: 1024)
        // The previous event's hash, raw (hashed before the next event's bytes) and as hex
        // (compared with the next stored prevHash), then the same two for the current event.
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * (32 + 64), alignment: 16)
        defer { scratch.deallocate() }
        var previous = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<32])
        var previousHex = UnsafeMutableRawBufferPointer(rebasing: scratch[32..<96])
        var current = UnsafeMutableRawBufferPointer(rebasing: scratch[96..<128])
        var currentHex = UnsafeMutableRawBufferPointer(rebasing: scratch[128..<192])
        previous.copyBytes(from: starting)
        encodeHex(UnsafeRawBufferPointer(previous), into: previousHex)
        var expectedSeq = anchorSeq + 1

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
            let prevHash = column(raw, 7)
            guard equal(prevHash, previousHex) else {
                outcome.problem = (seq, "event \(seq) does not follow its predecessor (prevHash differs)")
                return outcome
            }
            // What is hashed, in one piece: the previous hash, then the event's canonical bytes.
            canonical.removeAll()
            canonical.append(UnsafeRawBufferPointer(previous))
            CanonicalEncoding.appendEvent(
                seq: seq, time: column(raw, 1), actor: column(raw, 2), action: column(raw, 3),
                subject: column(raw, 4), outcome: column(raw, 5), details: column(raw, 6), prevHash: prevHash,
                to: &canonical)
            var hasher = SHA256()
            canonical.withBytes { hasher.update(bufferPointer: $0) }
            hasher.finalize().withUnsafeBytes { current.copyMemory(from: $0) }
            encodeHex(UnsafeRawBufferPointer(current), into: currentHex)
            guard equal(column(raw, 8), currentHex) else {
                outcome.problem = (seq, "event \(seq) was altered (its hash does not match its content)")
                return outcome
            }
            while nextCheckpoint < checkpoints.count && checkpoints[nextCheckpoint].0 < seq { nextCheckpoint += 1 }
            if nextCheckpoint < checkpoints.count, checkpoints[nextCheckpoint].0 == seq,
                !checkpoints[nextCheckpoint].1.elementsEqual(current)
            {
                outcome.checkpointMismatches.append(seq)
            }
            swap(&previous, &current)
            swap(&previousHex, &currentHex)
            outcome.lastSeq = seq
            expectedSeq = seq + 1
        }
        if outcome.events > 0 { outcome.lastHash = Hex.encode(previous) }
        return outcome
    }

    /// A text column's bytes, valid until the next step; empty for NULL. Through the column's
    /// value: one call into SQLite's API (its lock and error bookkeeping) per column instead of
    /// two. SQLite calls reading such a value "not threadsafe": this connection is ours alone
    /// for the whole scan, on one thread.
    @inline(__always)
    private static func column(_ statement: OpaquePointer, _ index: Int32) -> UnsafeBufferPointer<UInt8> {
        let value = sqlite3_column_value(statement, index)
        guard let text = sqlite3_value_text(value) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: text, count: Int(sqlite3_value_bytes(value)))
    }

    /// Whether a stored hash is exactly these 64 hex digits.
    @inline(__always)
    private static func equal(_ text: UnsafeBufferPointer<UInt8>, _ hex: UnsafeMutableRawBufferPointer) -> Bool {
        guard text.count == 64, let base = text.baseAddress else { return false }
        return memcmp(base, hex.baseAddress!, 64) == 0
    }

    private static let hexDigits: (UInt64, UInt64) = (0x3736_3534_3332_3130, 0x6665_6463_6261_3938)

    /// 32 bytes as 64 lower-case hex digits.
    @inline(__always)
    private static func encodeHex(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        withUnsafeBytes(of: hexDigits) { digits in
            for index in 0..<32 {
                let byte = bytes[index]
                out[2 * index] = digits[Int(byte >> 4)]
                out[2 * index + 1] = digits[Int(byte & 0x0f)]
            }
        }
    }
}
