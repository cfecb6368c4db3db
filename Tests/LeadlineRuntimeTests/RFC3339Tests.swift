import Foundation
import LeadlineRuntime
import Testing

@Suite struct RFC3339Tests {
    /// The hand-written formatter must write what Foundation's format style writes, down to the
    /// millisecond it cuts, for any time a daemon may meet.
    @Test func formatWritesWhatFoundationWrites() {
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        style.timeZone = .gmt
        var generator = SystemRandomNumberGenerator()
        var times: [Double] = [0, -1.5, 0.9996, 951_782_400.5, 1_764_605_346.1235, 253_402_300_799.9999]
        for index in 0..<20_000 {
            times.append(
                index.isMultiple(of: 2)
                    ? Double.random(in: -1e9..<4e9, using: &generator)
                    : Double(Int64.random(in: 0..<4_000_000_000_000, using: &generator)) / 1000)
        }
        var mismatches: [String] = []
        for time in times {
            let date = Date(timeIntervalSince1970: time)
            let ours = RFC3339.format(date)
            let foundation = date.formatted(style)
            if ours != foundation, mismatches.count < 5 { mismatches.append("\(time): \(ours) vs \(foundation)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_764_605_346.1239)) == "2025-12-01T16:09:06.123Z")
    }

    @Test func formattedTimesParseBack() {
        let date = Date(timeIntervalSince1970: 1_764_605_346.25)
        #expect(RFC3339.parse(RFC3339.format(date)) == date)
    }

    /// Every millisecond of a second survives format, parse, format; and sub-millisecond digits
    /// keep their value.
    @Test func writtenMillisecondsReadBackExactly() {
        for base in [0.0, -86_400.5, 1_764_605_346, 253_402_300_000] {
            for millisecond in 0..<1000 {
                let text = RFC3339.format(Date(timeIntervalSince1970: base + Double(millisecond) / 1000 + 0.0004))
                #expect(RFC3339.parse(text).map(RFC3339.format) == text, "\(text)")
            }
        }
        let precise = RFC3339.parse("2026-12-01T10:00:00.123456Z")
        #expect(precise.map { abs($0.timeIntervalSince1970 - 1_796_119_200.123456) < 1e-6 } == true)
    }

    /// The hand-written parser agrees with Foundation's, to well under a millisecond, on the forms
    /// the schemas allow, and is stricter only where RFC 3339 is. Compared from 1583 on: before
    /// the Gregorian reform Foundation counts Julian days, while RFC 3339, `format` (gmtime) and
    /// this parser keep the proleptic Gregorian calendar.
    @Test func parseAgreesWithFoundation() {
        var accepted = [
            "2026-12-01T10:00:00Z", "2026-12-01T10:00:00.5Z", "2026-12-01T10:00:00.123Z", "2026-12-01T10:00:00+01:00",
            "2026-12-01T10:00:00.250-05:30", "2024-02-29T23:59:59Z", "2000-02-29T00:00:00Z", "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z", "1583-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "2026-11-23T10:13:10+00:00",
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let seconds = Double(Int64.random(in: -12_212_553_600..<253_402_300_799, using: &generator))
            let date = Date(timeIntervalSince1970: seconds + Double(Int.random(in: 0..<1000, using: &generator)) / 1000)
            accepted.append(RFC3339.format(date))
            let hours = Int.random(in: -14...14, using: &generator)
            let offset = String(format: "%@%02d:%02d", hours < 0 ? "-" : "+", abs(hours), [0, 30, 45].randomElement()!)
            accepted.append(String(RFC3339.format(date).dropLast()) + offset)
        }
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        style.timeZone = .gmt
        for text in accepted {
            let foundation = (try? style.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
            let ours = RFC3339.parse(text)
            #expect(ours != nil, "\(text)")
            if let ours, let foundation {
                #expect(abs(ours.timeIntervalSince(foundation)) < 0.000_1, "\(text)")
            }
        }
        let refused = [
            "2026-13-01T10:00:00Z", "2026-02-30T10:00:00Z", "2025-02-29T10:00:00Z", "2026-12-01T24:00:00Z",
            "2026-12-01T10:60:00Z", "2026-12-01T10:00:61Z", "2026-12-01T10:00:00", "2026-12-01T10:00:00.Z",
            "2026-12-01T10:00:00+0100", "2026-12-01T10:00:00+25:00", "20216-12-01T10:00:00Z", "2026-12-01",
            "2026-12-01T10:00:00Z ", " 2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z\n", "٢٠٢٦-12-01T10:00:00Z", "",
        ]
        for text in refused { #expect(RFC3339.parse(text) == nil, "\(text)") }
        // Proleptic Gregorian, as gmtime writes it: the first day of the common era.
        #expect(RFC3339.parse("0001-01-01T00:00:00Z")?.timeIntervalSince1970 == -62_135_596_800)
    }
}
