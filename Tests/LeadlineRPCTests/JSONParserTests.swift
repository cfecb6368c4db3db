import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import Testing

/// The wire parser: RFC 8259 strictly, numbers as the Codable path read them before.
@Suite struct JSONParserTests {
    @Test(arguments: [
        ("1", JSONValue.int(1)), ("-0", .int(0)), ("1.0", .int(1)), ("1e2", .int(100)), ("-2.5", .double(-2.5)),
        ("9223372036854775807", .int(Int64.max)), ("9223372036854775808", .double(9_223_372_036_854_775_808)),
        ("0.1", .double(0.1)), ("true", .bool(true)), ("false", .bool(false)), ("null", .null),
        (#" "a\"b\\c\/d\b\f\n\r\t" "#, .string("a\"b\\c/d\u{8}\u{c}\n\r\t")),
        (#""\u00e9\u20ac\ud83d\ude00""#, .string("é€😀")), (#""é€😀""#, .string("é€😀")), (#""\u0000""#, .string("\0")),
        (
            #"{"a":[1,{"b":null}],"c":{}}"#,
            .object(["a": .array([.int(1), .object(["b": .null])]), "c": .object([:])])
        ),
        (#"{"a":1,"a":2}"#, .object(["a": .int(1)])), ("[ ]", .array([])),
        (" \t\r\n[1 , 2]\n", .array([.int(1), .int(2)])),
    ])
    func acceptsValidJSON(_ text: String, _ expected: JSONValue) throws {
        #expect(try JSONParser.parse(Array(text.utf8)) == expected)
    }

    @Test(arguments: [
        "", " ", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "+1", "1e", "-", "tru", "nul",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\u{1}b\"", "1E400",
        "[1]x", "{} {}", "[", "{", "'a'", "NaN", "Infinity",
    ])
    func rejectsInvalidJSON(_ text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func rejectsInvalidUTF8InStrings() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func limitsNesting() throws {
        let deepest =
            String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        #expect(try JSONParser.parse(Array(deepest.utf8)) != .null)
        let tooDeep = "[" + deepest + "]"
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(tooDeep.utf8)) }
        // Far deeper than the limit fails the same way, without exhausting the stack.
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(hostile.utf8)) }
    }

    @Test func agreesWithFoundationOnEveryFixture() throws {
        let directory = Fixtures.directory
        let files = try FileManager.default.subpathsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
        #expect(!files.isEmpty)
        for file in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)"))
            let viaFoundation = try JSONDecoder().decode(JSONValue.self, from: data)
            #expect(try JSONParser.parse(data) == viaFoundation, "\(file)")
        }
    }
}
