import Foundation
import LeadlineRPC
import Testing

@testable import AuditCore

/// audit.append's result writes its own JSON; it must be what Codable writes, `skipped`
/// left out when nil as the synthesized encoder leaves it out.
@Suite struct AppendResultEncodingTests {
    @Test(arguments: [nil, 0, 3] as [Int?])
    func appendResultWritesWhatCodableWrites(skipped: Int?) throws {
        let result = AppendEvents.Result(appended: 5, skipped: skipped, firstSeq: 1, lastSeq: Int64.max)
        #expect(JSONValueWriter.bytes(result.jsonValue) == Array(try JSONCoding.encode(result)))
    }
}
