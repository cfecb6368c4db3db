import Crypto
import Foundation
import GRDB
import GRDBSQLite

/// The event half of verification over one range of seqs, on SQLite's own column buffers: no
/// String, Row or allocation per event, one reused canonical buffer. Stored hashes are compared
/// as text with the lower-case hex of what was computed, which holds exactly when they decode to
/// it; so only a range's first prevHash is ever decoded. Reading each event through GRDB rows and
/// Strings cost ~9 µs an event; verify must read every one.
///
/// A range checks each event after its first against the one before it. Whether the first
/// follows the range before (its seq and prevHash) is for the caller to decide, which knows
/// where that range ended: see ``ChainVerifier``.
struct EventScan {
    struct Outcome: Sendable {
        /// Events read, the one that failed included.
        var events = 0
        /// The range's first event: its seq and its stored prevHash, nil unless 64 lower-case hex digits.
        var first: (seq: Int64, prevHash: [UInt8]?)?
        /// The last event checked, and its hash.
        var lastSeq: Int64 = 0
        var lastHash: [UInt8] = []
        /// The first failure after the first event's join to the range before.
        var problem: (seq: Int64, detail: String)?
        var checkpointMismatches: [Int64] = []
    }

    /// Events with `lower < seq <= upper` (a nil bound: none) in seq order; `checkpoints` are the
    /// hashes to meet in that range, in seq order.
    static func run(
        _ db: Database, above lower: Int64?, through upper: Int64?, checkpoints: [(seq: Int64, hash: [UInt8])]
    ) throws -> Outcome {
        var outcome = Outcome()
        var nextCheckpoint = 0

        let range = rangeFilter(above: lower, through: upper)
        let statement = try db.makeStatement(
            sql: "SELECT seq, time, actor, action, subject, outcome, details, prevHash, hash FROM events"
                + range.sql + " ORDER BY seq")
        try statement.setArguments(range.arguments)
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
        var expectedSeq: Int64 = 0

        while true {
            let code = sqlite3_step(raw)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: code)) }
            let seq = sqlite3_column_int64(raw, 0)
            let prevHash = column(raw, 7)
            outcome.events += 1
            if outcome.first == nil {
                let decoded = decodeHex(prevHash)
                outcome.first = (seq, decoded)
                guard let decoded else {
                    outcome.problem = (seq, "event \(seq) does not follow its predecessor (prevHash differs)")
                    return outcome
                }
                previous.copyBytes(from: decoded)
                previousHex.copyMemory(from: UnsafeRawBufferPointer(prevHash))
            } else {
                if seq != expectedSeq {
                    outcome.problem = (
                        min(seq, expectedSeq),
                        "expected seq \(expectedSeq), found \(seq) (an event was removed or inserted)"
                    )
                    return outcome
                }
                guard equal(prevHash, previousHex) else {
                    outcome.problem = (seq, "event \(seq) does not follow its predecessor (prevHash differs)")
                    return outcome
                }
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
            while nextCheckpoint < checkpoints.count && checkpoints[nextCheckpoint].seq < seq { nextCheckpoint += 1 }
            if nextCheckpoint < checkpoints.count, checkpoints[nextCheckpoint].seq == seq,
                !checkpoints[nextCheckpoint].hash.elementsEqual(current)
            {
                outcome.checkpointMismatches.append(seq)
            }
            swap(&previous, &current)
            swap(&previousHex, &currentHex)
            outcome.lastSeq = seq
            expectedSeq = seq + 1
        }
        if outcome.events > 0 { outcome.lastHash = Array(previous) }
        return outcome
    }

    /// ` WHERE lower < seq AND seq <= upper`, without the bounds that are nil.
    static func rangeFilter(above lower: Int64?, through upper: Int64?) -> (sql: String, arguments: StatementArguments)
    {
        switch (lower, upper) {
        case (let lower?, let upper?): (" WHERE seq > ? AND seq <= ?", [lower, upper])
        case (let lower?, nil): (" WHERE seq > ?", [lower])
        case (nil, let upper?): (" WHERE seq <= ?", [upper])
        case (nil, nil): ("", [])
        }
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

    /// 64 lower-case hex digits as 32 bytes; nil for anything else.
    static func decodeHex(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard text.count == 64 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: return nil
            }
        }
        var out = [UInt8](repeating: 0, count: 32)
        for index in 0..<32 {
            guard let high = nibble(text[2 * index]), let low = nibble(text[2 * index + 1]) else { return nil }
            out[index] = high << 4 | low
        }
        return out
    }
}
