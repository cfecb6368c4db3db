import Foundation
import LeadlineTestDoubles
import Testing

/// The Graph API double writes synthetic leads by hand, for speed; they must stay the bytes
/// Foundation's JSONSerialization wrote for the same object, which is what it answered before.
@Suite struct GraphDoubleTests {
    @Test(arguments: ["920000000000001", "odd \"id\" with \\ and / and a tab\t"])
    func aSyntheticLeadIsWhatJSONSerializationWrites(id: String) async throws {
        let graph = try await GraphAPIDouble()
        try graph.addSyntheticLead(id: id, formID: "555", createdTime: "2026-11-23T10:00:00+0000")
        let object: [String: Any] = [
            "id": id, "created_time": "2026-11-23T10:00:00+0000", "form_id": "555", "is_organic": false,
            "platform": "fb", "ad_id": "666666666666", "adset_id": "676767676767", "campaign_id": "686868686868",
            "field_data": [
                ["name": "email", "values": [" Lead.\(id)@Example.com "]],
                ["name": "full_name", "values": ["Lead \(id)"]],
            ],
        ]
        let expected = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        let stored = try #require(graph.storedLead(id))
        #expect(String(decoding: stored, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        await graph.shutdown()
    }

    @Test func onlyARequestForEveryStoredFieldGetsTheStoredBytes() {
        let keys: Set<String> = ["id", "email", "form_id"]
        #expect(GraphAPIDouble.selectsAll(keys, fields: nil))
        #expect(GraphAPIDouble.selectsAll(keys, fields: ""))
        #expect(GraphAPIDouble.selectsAll(keys, fields: "email,form_id,platform"))
        #expect(!GraphAPIDouble.selectsAll(keys, fields: "email"))
    }
}
