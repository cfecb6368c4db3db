import Foundation

/// RFC 3339 times as the schemas allow them (with or without fractions, Z or any offset).
/// Foundation's format style, not ISO8601DateFormatter: that one builds an ICU formatter on
/// every use, about 300 µs a parse against 2 µs, and audit appends parse one time per event.
public enum RFC3339 {
    public static func parse(_ text: String) -> Date? {
        // RFC 3339 years have four digits; the format style would also read "20216-01-23…".
        let bytes = text.utf8
        guard bytes.count >= 20, bytes.prefix(4).allSatisfy({ (48...57).contains($0) }),
            bytes[bytes.index(bytes.startIndex, offsetBy: 4)] == UInt8(ascii: "-")
        else { return nil }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
