import Foundation

/// RFC 3339 times as the schemas allow them (with or without fractions, Z or any offset), read
/// and written by hand. Foundation's ISO 8601 format style loads ICU's calendar data, about
/// 3 MiB resident in every daemon that parses one time, and ISO8601DateFormatter builds an ICU
/// formatter on every use, about 300 µs a parse; audit appends parse one time per event.
public enum RFC3339 {
    /// `YYYY-MM-DD` `T`|`t`|space `hh:mm:ss`, an optional `.` and fraction digits, then `Z`|`z`
    /// or `+hh:mm`|`-hh:mm`. Fields out of range (month 13, 30 February, minute 60) are nil;
    /// second 60 is read as the leap second RFC 3339 allows, the same instant as :59 plus one.
    public static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

    static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        var index = 0
        func number(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for offset in 0..<count {
                let digit = bytes[index + offset] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                value = value * 10 + Int(digit)
            }
            index += count
            return value
        }
        func skip(_ allowed: StaticString) -> Bool {
            guard index < bytes.count else { return false }
            let byte = bytes[index]
            let matched = allowed.withUTF8Buffer { $0.contains(byte) }
            if matched { index += 1 }
            return matched
        }
        guard let year = number(4), skip("-"), let month = number(2), skip("-"), let day = number(2),
            skip("Tt "), let hour = number(2), skip(":"), let minute = number(2), skip(":"),
            let second = number(2)
        else { return nil }
        // The fraction as digits over a power of ten; past 15 digits a Double holds no more.
        var fractionDigits = 0
        var fractionScale = 1
        if skip(".") {
            let start = index
            while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 {
                if index - start < 15 {
                    fractionDigits = fractionDigits * 10 + Int(bytes[index] &- UInt8(ascii: "0"))
                    fractionScale *= 10
                }
                index += 1
            }
            guard index > start else { return nil }
        }
        var offsetSeconds = 0
        if !skip("Zz") {
            let sign = index < bytes.count && bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard skip("+-"), let offsetHours = number(2), skip(":"), let offsetMinutes = number(2),
                offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard index == bytes.count, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second <= 60
        else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let unixSeconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        // Kept as Foundation keeps dates, seconds since 2001. The sum rounds to the nearest
        // Double, which may fall a hair below the written millisecond; `format` cuts, so it is
        // moved up to the first Double that `format` writes back as the same millisecond.
        let whole = Double(unixSeconds - 978_307_200)
        let milliseconds = fractionDigits * 1000 / fractionScale
        var seconds = whole + Double(fractionDigits) / Double(fractionScale)
        while ((seconds - whole) * 1000).rounded(.down) < Double(milliseconds) { seconds = seconds.nextUp }
        return Date(timeIntervalSinceReferenceDate: seconds)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (years 0000 to 9999):
    /// whole 400-year eras from 0000-03-01, then the days into the era with March as the first
    /// month, so that the leap day falls at the end of a year.
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
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
