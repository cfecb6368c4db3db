import Foundation
import LeadlineRPC
import LeadlineRuntime
import Testing

/// Results that write their own JSON must write what Codable would.
@Suite struct DirectResultEncodingTests {
    @Test(arguments: [true, false])
    func pingWritesWhatCodableWrites(pong: Bool) throws {
        let result = Ping.Result(pong: pong, time: "2026-12-01T10:00:00.000Z")
        #expect(JSONValueWriter.bytes(result.jsonValue) == Array(try JSONCoding.encode(result)))
    }
}
