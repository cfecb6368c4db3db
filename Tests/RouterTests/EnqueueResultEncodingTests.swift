import Foundation
import LeadlineRPC
import Testing

@testable import RouterCore

/// router.enqueueLead's result writes its own JSON; it must be what Codable writes.
@Suite struct EnqueueResultEncodingTests {
    @Test(arguments: [[], ["dl_1"], ["dl_1", "dl_\"2\""]])
    func enqueueResultWritesWhatCodableWrites(deliveries: [String]) throws {
        for duplicate in [true, false] {
            let result = EnqueueLead.Result(leadId: "ld_ä", deliveries: deliveries, duplicate: duplicate)
            #expect(JSONValueWriter.bytes(result.jsonValue) == Array(try JSONCoding.encode(result)))
        }
    }
}
