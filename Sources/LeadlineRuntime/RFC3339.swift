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

    /// "2026-12-01T16:09:06.123Z": UTC, milliseconds, exactly what ISO8601FormatStyle with
    /// fractional seconds writes (milliseconds cut, not rounded, from the time since 2001, as
    /// Foundation keeps it), built by hand: the format style cost a few µs per call and every
    /// audit event, ping and stored row carries a time.
    public static func format(_ date: Date) -> String {
        let sinceReference = date.timeIntervalSinceReferenceDate
        let wholeSeconds = sinceReference.rounded(.down)
        let milliseconds = min(Int(((sinceReference - wholeSeconds) * 1000).rounded(.down)), 999)
        var seconds = time_t(Int64(wholeSeconds) + 978_307_200)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = [UInt8]()
        out.reserveCapacity(24)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        out.append(UInt8(ascii: "."))
        digits(milliseconds, 3)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }
}
