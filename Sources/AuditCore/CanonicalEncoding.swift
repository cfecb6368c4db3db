import Crypto
import Foundation
import LeadlineRPC

/// The byte encoding the hash chain and the signatures cover. Defined here once so that
/// verification (in the daemon, offline, or by an operator's own script) rebuilds exactly the
/// bytes that were hashed:
///
/// - A JSON object with the keys in this fixed (byte-sorted) order and no whitespace:
///   `{"action":…,"actor":…,"details":…,"outcome":…,"prevHash":…,"seq":…,"subject":…,"time":…}`
/// - strings escape only `"` `\` and control characters below U+0020 (as `\u00xx`, lower-case
///   hex); everything else is written as its UTF-8 bytes;
/// - `details` is the stored details text verbatim (itself produced by `json(_:)`: keys sorted,
///   no whitespace), `{}` when an event has none;
/// - `seq` in decimal; `time` as stored (normalized UTC, milliseconds, e.g. 2026-12-01T10:00:00.000Z).
///
/// hash = SHA-256(prevHash as 32 raw bytes || canonical bytes), written as lower-case hex.
public enum CanonicalEncoding {
    public static let zeroHash = String(repeating: "0", count: 64)

    public static func eventBytes(
        seq: Int64, time: String, actor: String, action: String, subject: String, outcome: String, details: String,
        prevHash: String
    ) -> [UInt8] {
        var out = CanonicalBuffer(capacity: 160 + details.utf8.count + subject.utf8.count)
        appendEvent(
            seq: seq, time: time.utf8, actor: actor.utf8, action: action.utf8, subject: subject.utf8,
            outcome: outcome.utf8, details: details.utf8, prevHash: prevHash.utf8, to: &out)
        return out.bytes
    }

    /// The one definition of an event's canonical bytes, over any UTF-8 source: Strings when
    /// appending, SQLite's column buffers when verifying.
    static func appendEvent<Text: Collection<UInt8>>(
        seq: Int64, time: Text, actor: Text, action: Text, subject: Text, outcome: Text, details: Text, prevHash: Text,
        to out: inout CanonicalBuffer
    ) {
        out.append(#"{"action":"#)
        appendString(action, to: &out)
        out.append(#","actor":"#)
        appendString(actor, to: &out)
        out.append(#","details":"#)
        out.append(contentsOf: details)
        out.append(#","outcome":"#)
        appendString(outcome, to: &out)
        out.append(#","prevHash":"#)
        appendString(prevHash, to: &out)
        out.append(#","seq":"#)
        out.appendDecimal(seq)
        out.append(#","subject":"#)
        appendString(subject, to: &out)
        out.append(#","time":"#)
        appendString(time, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// SHA-256(prevHash raw || canonical), hex. Nil when prevHash is not 64 hex digits.
    public static func chainHash(prevHash: String, canonical: [UInt8]) -> String? {
        guard let previous = Hex.decode(prevHash), previous.count == 32 else { return nil }
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: canonical)
        return Hex.encode(hasher.finalize())
    }

    /// The bytes a checkpoint's Ed25519 signature covers: `{"hash":…,"seq":…,"time":…}`.
    public static func checkpointBytes(seq: Int64, time: String, hash: String) -> [UInt8] {
        var out = CanonicalBuffer(capacity: 128)
        out.append(#"{"hash":"#)
        appendString(hash.utf8, to: &out)
        out.append(#","seq":"#)
        out.appendDecimal(seq)
        out.append(#","time":"#)
        appendString(time.utf8, to: &out)
        out.append(UInt8(ascii: "}"))
        return out.bytes
    }

    /// What the signed chain head and the retention anchor cover; the label keeps the three
    /// kinds of signature from standing in for one another.
    public static func markerBytes(_ label: String, seq: Int64, hash: String) -> [UInt8] {
        Array("leadline.audit.\(label).v1\n\(seq)\n\(hash)".utf8)
    }

    /// Canonical JSON text of any value: sorted keys, no whitespace, the string escaping above.
    public static func json(_ value: JSONValue) -> String {
        var out = CanonicalBuffer(capacity: 256)
        appendValue(value, to: &out)
        return out.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    static func appendValue(_ value: JSONValue, to out: inout CanonicalBuffer) {
        switch value {
        case .null: out.append("null")
        case .bool(let flag): out.append(flag ? "true" : "false")
        case .int(let number): out.appendDecimal(number)
        case .double(let number):
            if number.isFinite && number.rounded() == number && abs(number) < 9.0e15 {
                out.appendDecimal(Int64(number))
            } else {
                out.append(contentsOf: (number.isFinite ? "\(number)" : "null").utf8)
            }
        case .string(let text): appendString(text.utf8, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendValue(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            // Sorted by UTF-8 bytes, so any language can reproduce the order.
            for (index, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendString(key.utf8, to: &out)
                out.append(UInt8(ascii: ":"))
                appendValue(members[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string with the escaping above: runs that need none are copied whole.
    static func appendString<Text: Collection<UInt8>>(_ text: Text, to out: inout CanonicalBuffer) {
        out.append(UInt8(ascii: "\""))
        let copied: Void? = text.withContiguousStorageIfAvailable { out.appendEscaped($0) }
        if copied == nil { Array(text).withUnsafeBufferPointer { out.appendEscaped($0) } }
        out.append(UInt8(ascii: "\""))
    }
}
