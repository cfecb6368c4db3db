import Foundation

/// "2026-12-01T21:12:42Z": whole seconds in UTC, by the C library. Foundation's ISO 8601 format
/// style loads ICU's calendar and locale data, about 3 MiB resident in every daemon, for what
/// strftime writes in the C locale. Log prefixes and JSON dates use it.
public enum UTCTimestamp {
    public static func seconds(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text = [CChar](repeating: 0, count: 32)
        let count = strftime(&text, text.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: text.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
