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
        // A valid non-ASCII string beside the bad one takes the input off the fast path too.
        let mixed = Array(#"["é", ""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""]"#.utf8)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(mixed) }
        // Outside a string, any byte past ASCII is an error whatever the encoding.
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array("[1, é]".utf8)) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x5B, 0xFF, 0x5D]) }
    }

    /// Strings of a valid input are made without validating each again; they must come out as
    /// the slow path makes them, escapes and all, wherever the multi-byte sequences fall.
    @Test(arguments: [
        "plain", "é", "naïve café", "😀 at the end 😀", "東京", #"a\u00e9b"#, #"\ud83d\ude00x"#, #"tab\tq\"uote"#,
    ])
    func nonASCIIStringsComeOutWhole(_ literal: String) throws {
        let expected = try JSONSerialization.jsonObject(with: Data("[\"\(literal)\"]".utf8)) as? [String]
        let parsed = try JSONParser.parse(Array("{\"k\":[\"\(literal)\",\"x\"]}".utf8))
        #expect(parsed["k"] == .array([.string(try #require(expected?.first)), .string("x")]))
    }

    @Test func findsValidUTF8AsTheStandardLibraryDoes() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<200 {
            for _ in 0..<20 {
                // Mostly ASCII with sometimes a high byte, at every alignment of the word check.
                let bytes = (0..<length).map { _ in
                    UInt8.random(in: 0...20, using: &generator) == 0
                        ? UInt8.random(in: 0x80...0xFF, using: &generator)
                        : UInt8.random(in: 0x20...0x7E, using: &generator)
                }
                #expect(JSONParser.isValidUTF8(bytes) == (String(validating: bytes, as: UTF8.self) != nil))
            }
        }
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
