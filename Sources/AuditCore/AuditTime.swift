import Foundation
import LeadlineRuntime

/// The audit log's one time format. Stored times are UTC with milliseconds
/// (2026-12-01T10:00:00.000Z), so that text order is time order for queries and retention.
public enum AuditTime {
    public static func format(_ date: Date) -> String { AuditEvent.timestamp(date) }

    /// Already-normalized times are kept byte for byte (the spool's original time must survive
    /// exactly); any other RFC 3339 form is converted.
    public static func normalize(_ text: String) -> String? {
        if isNormalized(text) { return text }
        return RFC3339.parse(text).map(format)
    }

    static func isNormalized(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 24 else { return false }
        let digitPositions: [Int] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22]
        let fixed: [(Int, Character)] = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")]
        for position in digitPositions where !(48...57).contains(bytes[position]) { return false }
        for (position, character) in fixed where bytes[position] != character.asciiValue! { return false }
        return RFC3339.parse(text) != nil
    }
}
