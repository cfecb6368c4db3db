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

    /// The writer copies unescaped runs whole; a byte-at-a-time writer is the reference, on
    /// strings with escapes at the start, the end, next to each other and between multi-byte text.
    @Test func stringsAreEscapedAsByteByByte() throws {
        func reference(_ string: String) -> [UInt8] {
            var out: [UInt8] = [0x22]
            for byte in string.utf8 {
                switch byte {
                case 0x22, 0x5C: out += [0x5C, byte]
                case 0x0A: out += Array(#"\n"#.utf8)
                case 0x0D: out += Array(#"\r"#.utf8)
                case 0x09: out += Array(#"\t"#.utf8)
                case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
                default: out.append(byte)
                }
            }
            return out + [0x22]
        }
        let pieces = [
            "", "a", "é", "漢", "🙂", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1f}", "\u{7f}", "/", "plain text",
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let string = (0..<Int.random(in: 0...8, using: &generator)).map { _ in
                pieces.randomElement(using: &generator)!
            }.joined()
            var written: [UInt8] = []
            JSONStringWriter.append(string, to: &written)
            #expect(written == reference(string), "\(string.debugDescription)")
            #expect(try JSONParser.parse(written) == .string(string))
        }
    }

    @Test func objectKeysComeInByteOrder() {
        let text = String(decoding: JSONValueWriter.bytes(["b": 1, "B": 2, "a": 3, "aa": 4]), as: UTF8.self)
        #expect(text == #"{"B":2,"a":3,"aa":4,"b":1}"#)
    }
}
