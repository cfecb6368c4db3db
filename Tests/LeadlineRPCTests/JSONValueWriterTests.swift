import Foundation
import LeadlineRPC
import Testing

@Suite struct JSONValueWriterTests {
    let sample: JSONValue = [
        "email": "ana@example.com", "answers": ["yes", 2, 2.5, 1e21, -3.25e-8, true, false, nil],
        "nested": ["z": 1, "a": ["b": "c"], "Zeta": "upper"],
        "escapes": "quote \" backslash \\ slash / \n\t\u{01} é 漢 🙂",
        "big": .int(Int64.max), "small": .int(Int64.min), "empty": [:], "none": [],
    ]

    @Test func whatItWritesParsesBackToTheSameValue() throws {
        let bytes = JSONValueWriter.bytes(sample)
        #expect(try JSONParser.parse(bytes) == sample)
        #expect(try JSONCoding.encode(sample) == Data(bytes))
    }

    @Test func itWritesWhatJSONEncoderWritesForTheValuesDaemonsStore() throws {
        // Lower-case keys, the shapes of leads and audit details: byte for byte the same.
        let value: JSONValue = [
            "action": "router.delivered", "details": ["attempts": 2, "latencyMs": 12.5, "ok": true, "crm": "hubspot"],
            "subject": "lead-1", "time": "2026-12-01T16:09:06.123Z", "list": [1, "two", nil],
        ]
        let foundation = try JSONCoding.encoder().encode(value)
        #expect(Data(JSONValueWriter.bytes(value)) == foundation)
    }

    @Test func objectKeysComeInByteOrder() {
        let text = String(decoding: JSONValueWriter.bytes(["b": 1, "B": 2, "a": 3, "aa": 4]), as: UTF8.self)
        #expect(text == #"{"B":2,"a":3,"aa":4,"b":1}"#)
    }
}
