import Foundation
import LeadlineRPC
import Testing

/// Replies and stored values encoded without JSONEncoder must mean exactly what JSONEncoder
/// (with the wire's options) wrote, for every shape Codable can produce.
@Suite struct JSONValueEncoderTests {
    enum Kind: String, Codable { case hubspot, webhook }
    enum Step: Codable { case waiting(until: Int), done }

    struct Inner: Codable {
        var name: String
        var score: Double?
        var flags: [Bool]
    }

    /// Written by hand with every kind of container Codable offers, nested and super encoders too.
    struct Handmade: Encodable {
        enum Keys: String, CodingKey { case list, nested, parent, tail }
        func encode(to encoder: any Encoder) throws {
            var keyed = encoder.container(keyedBy: Keys.self)
            var list = keyed.nestedUnkeyedContainer(forKey: .list)
            try list.encode(1)
            try list.encodeNil()
            var inList = list.nestedContainer(keyedBy: Keys.self)
            try inList.encode("in", forKey: .tail)
            var deeper = list.nestedUnkeyedContainer()
            try deeper.encode(Int8(-3))
            try deeper.encode(UInt64.max)
            var nested = keyed.nestedContainer(keyedBy: Keys.self, forKey: .nested)
            try nested.encode(Float(0.5), forKey: .tail)
            var parent = keyed.superEncoder().singleValueContainer()
            try parent.encode("base")
            var tail = keyed.superEncoder(forKey: .tail).unkeyedContainer()
            try tail.encode(UInt16(7))
        }
    }

    struct Everything: Encodable {
        var text = "quote \" slash / newline \n é ✓"
        var integer = -42
        var big = Int64.max
        var unsigned = UInt32.max
        var ratio = 0.1
        var whole = 3.0
        var tiny = 1e-300
        var flag = false
        var absent: String? = nil
        var present: String? = "here"
        var kind = Kind.webhook
        var steps: [Step] = [.waiting(until: 5), .done]
        var inner = [Inner(name: "a", score: nil, flags: [true]), Inner(name: "b", score: 2.5, flags: [])]
        var map: [String: Int] = ["b": 2, "a": 1, "B10": 3, "B9": 4]
        var numberKeys: [Int: String] = [10: "ten", 9: "nine"]
        var date = Date(timeIntervalSince1970: 1_796_119_200.75)
        var data = Data([0, 1, 2, 250])
        var url = URL(string: "https://example.com/a?b=c")!
        var json: JSONValue = ["any": [1, "two", nil, ["x": true]]]
        var handmade = Handmade()
        var empty: [String: String] = [:]
        var none: [Int] = []
    }

    static func foundation(_ value: some Encodable) throws -> JSONValue {
        try JSONCoding.parse(try JSONCoding.encoder().encode(value))
    }

    @Test func meansWhatJSONEncoderWrote() throws {
        let ours = try JSONCoding.value(of: Everything())
        let theirs = try Self.foundation(Everything())
        if case .object(let a) = ours, case .object(let b) = theirs {
            for key in Set(a.keys).union(b.keys) where a[key] != b[key] {
                Issue.record("\(key): \(String(describing: a[key])) vs \(String(describing: b[key]))")
            }
        }
        #expect(ours == theirs)
        #expect(ours["absent"] == nil)
        #expect(ours["date"] == "2026-12-01T10:00:00Z")
        #expect(ours["data"] == "AAEC+g==")
        #expect(ours["handmade"]?["super"] == "base")
        #expect(ours["handmade"]?["list"] == [1, nil, ["tail": "in"], [-3, .double(Double(UInt64.max))]])
        for value: JSONValue in [1, "x", nil, true, 2.5, [1, 2], ["a": ["b": nil]]] {
            #expect(try JSONCoding.value(of: value) == value)
        }
        #expect(try JSONCoding.value(of: [Optional<Int>.none, 1]) == [nil, 1])
        #expect(try JSONCoding.value(of: "top") == "top")
    }

    @Test func bytesAreCompactWithKeysInByteOrder() throws {
        let text = String(
            decoding: try JSONCoding.encode(["b": 1, "a": [2], "B": "/"] as [String: JSONValue]), as: UTF8.self)
        #expect(text == #"{"B":"/","a":[2],"b":1}"#)
        let reparsed = try JSONCoding.parse(try JSONCoding.encode(Everything()))
        #expect(reparsed == (try Self.foundation(Everything())))
    }

    @Test func nonFiniteNumbersAreRefusedWithTheirPath() {
        struct Holder: Encodable { var values: [Double] }
        #expect {
            _ = try JSONCoding.encode(Holder(values: [1, .nan]))
        } throws: { error in
            guard case EncodingError.invalidValue(_, let context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["values", "Index 1"]
        }
    }
}
