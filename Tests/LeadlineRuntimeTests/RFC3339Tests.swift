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
}
