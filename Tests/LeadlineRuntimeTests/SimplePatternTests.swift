import Foundation
import LeadlineRPC
import Testing

@testable import LeadlineRuntime

/// Schema patterns checked without the regex engine must give the regex engine's verdict, for
/// every pattern Schemas/ holds, on texts made to sit near each pattern's edges.
@Suite struct SimplePatternTests {
    /// Every "pattern" and patternProperties key in the embedded documents.
    static var schemaPatterns: [String] {
        var found: Set<String> = []
        func walk(_ value: JSONValue) {
            switch value {
            case .object(let members):
                for (key, member) in members {
                    if key == "pattern", case .string(let pattern) = member { found.insert(pattern) }
                    if key == "patternProperties", case .object(let patterns) = member {
                        found.formUnion(patterns.keys)
                    }
                    walk(member)
                }
            case .array(let items): items.forEach(walk)
            default: break
            }
        }
        for service in ["vault", "ingest", "router", "audit"] {
            if let schema = try? OpenRPCSchema(service: service) { walk(schema.document) }
        }
        return found.sorted()
    }

    /// xorshift64*: the same texts on every run.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    static func texts(for pattern: String, count: Int, generator: inout Generator) -> [String] {
        // Characters the pattern names, printable ASCII at large, and a few that leave the fast path.
        let named = Array(Set(pattern.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }))
        let printable = (0x20...0x7E).map { Unicode.Scalar(UInt8($0)) }
        let strangers: [Unicode.Scalar] = ["\t", "\n", "\r", "\u{0B}", "\u{85}", "é", "\u{2028}", "٣", "\u{00A0}"]
        var texts = [
            "", " ", "a", "A", "0", "a b", " a", "a ", "a@b", "A@b", "a@", "@b", "a@@b", "a@b@c", "x.y-z_1:2/3",
            String(repeating: "a", count: 64), String(repeating: "f", count: 64), String(repeating: "0", count: 128),
            String(repeating: "a", count: 128), String(repeating: "a", count: 129), String(repeating: "b", count: 200),
            String(repeating: "b", count: 201), "abc\n", "abc\r\n", "v19.0", "v123.45", "https://example.com/a?b",
            "http://x", "uid:42", "uid:42(jane)", "#12", "@name$", "2026-12-01T10:00:00Z", "[::1]:8080", "host:80",
        ]
        for _ in 0..<count {
            let length = Int.random(in: 0...(Bool.random(using: &generator) ? 8 : 210), using: &generator)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length {
                let roll = Int.random(in: 0..<100, using: &generator)
                if roll < 60, let scalar = named.randomElement(using: &generator) {
                    scalars.append(scalar)
                } else if roll < 97 {
                    scalars.append(printable.randomElement(using: &generator)!)
                } else {
                    scalars.append(strangers.randomElement(using: &generator)!)
                }
            }
            texts.append(String(scalars))
        }
        return texts
    }

    @Test func verdictsMatchTheRegexEngineForEverySchemaPattern() throws {
        let patterns = Self.schemaPatterns
        #expect(patterns.count > 20)
        var generator = Generator(state: 0x9E37_79B9_7F4A_7C15)
        var fastPathPatterns = 0
        for pattern in patterns {
            let matcher = PatternMatcher(pattern)
            let regex = try NSRegularExpression(pattern: ECMAPattern.icu(pattern))
            if matcher.simple != nil { fastPathPatterns += 1 }
            for text in Self.texts(for: pattern, count: 3000, generator: &generator) {
                let expected =
                    regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
                #expect(matcher.matches(text) == expected, "pattern \(pattern) on \(text.debugDescription)")
            }
        }
        // The common patterns take the fast path; the rest keep the regex.
        #expect(fastPathPatterns >= 12)
        #expect(SimplePattern(#"^\S{1,200}$"#) != nil)
        #expect(SimplePattern(#"^[^\sA-Z@]+@[^\sA-Z@]+$"#) != nil)
        #expect(SimplePattern(#"^(\+[1-9][0-9]{6,14}|\(?[0-9][0-9 ()./-]*[0-9])$"#) == nil)
    }

    @Test func textBeyondPrintableASCIIIsLeftToTheRegex() {
        let pattern = SimplePattern(#"^\S{1,200}$"#)
        #expect(pattern?.matches("abc") == true)
        #expect(pattern?.matches("a c") == false)
        #expect(pattern?.matches("abc\n") == nil)
        #expect(pattern?.matches("é") == nil)
    }

    @Test func dateTimesReadByHandAgreeWithTheRegex() throws {
        let regex = try NSRegularExpression(pattern: ECMAPattern.icu(SchemaValidator.dateTimePattern))
        var generator = Generator(state: 42)
        var texts = [
            "2026-12-01T10:00:00Z", "2026-12-01t10:00:00z", "2026-12-01 10:00:00+01:00", "2026-12-01T10:00:00.123456Z",
            "2026-12-01T10:00:00.Z", "2026-12-01T10:00:00", "2026-12-01T10:00Z", "2026-12-01T10:00:00+0100",
            "2026-12-01T10:00:00Z ", " 2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z\n", "٢٠٢٦-12-01T10:00:00Z",
            "2026-12-01T10:00:00-05:00", "12026-12-01T10:00:00Z", "",
        ]
        let alphabet = Array("0123456789-T:.Zz+ t1x".unicodeScalars) + ["\n", "é"]
        for _ in 0..<20_000 {
            var scalars = Array("2026-12-01T10:00:00.5+01:00".unicodeScalars)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let position = Int.random(in: 0..<scalars.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: scalars[position] = alphabet.randomElement(using: &generator)!
                case 1: scalars.remove(at: position)
                default: scalars.insert(alphabet.randomElement(using: &generator)!, at: position)
                }
                if scalars.isEmpty { break }
            }
            texts.append(String(String.UnicodeScalarView(scalars)))
        }
        var accepted = 0
        for text in texts {
            let expected = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
            if expected { accepted += 1 }
            #expect(SchemaValidator.isDateTime(text) == expected, "\(text.debugDescription)")
        }
        #expect(accepted > 100)
    }

    /// What the regex engine decides (text beyond printable ASCII) follows ECMA-262, as JSON
    /// Schema says, not ICU's own reading of the same spelling.
    @Test func theRegexEngineReadsPatternsAsECMA262() {
        func matches(_ pattern: String, _ text: String) -> Bool? { PatternMatcher(pattern).matches(text) }
        // `$` is the very end: a trailing line break is not allowed through.
        #expect(matches(#"^[a-z]+$"#, "abc") == true)
        #expect(matches(#"^[a-z]+$"#, "abc\n") == false)
        #expect(matches(#"^\S{1,200}$"#, "lead\n") == false)
        #expect(matches(#"^\S(?:[\s\S]*\S)?$"#, "Jane Doe\n") == false)
        #expect(matches(#"^\S(?:[\s\S]*\S)?$"#, "Jane\nDoe") == true)
        #expect(SchemaValidator.isDateTime("2026-12-01T10:00:00Z\n") == false)
        // `\d` is 0-9 and `\w` ASCII, whatever digits or letters another script has.
        #expect(matches(#"^\d+$"#, "١٢٣") == false)
        #expect(matches(#"^\w+$"#, "caf\u{00e9}") == false)
        #expect(matches(#"^[\d]+$"#, "٣") == false)
        #expect(SchemaValidator.isDateTime("٢٠٢٦-12-01T10:00:00Z") == false)
        // `\s` is ECMA's white space: vertical tab and BOM included, inside a class or not.
        #expect(matches(#"^\S+$"#, "a\u{000B}b") == false)
        #expect(matches(#"^\S+$"#, "a\u{FEFF}b") == false)
        #expect(matches(#"^[^\s@]+$"#, "a\u{FEFF}b") == false)
        #expect(matches(#"^\S+$"#, "caf\u{00e9}") == true)
        // An escaped `$` stays a dollar sign; `[` inside a class is a literal.
        #expect(matches(#"^a\$?$"#, "a$") == true)
        #expect(matches(#"^[[a]+$"#, "[a\u{00e9}") == false)
        #expect(matches(#"^[[a]+$"#, "[a[") == true)
        #expect(ECMAPattern.icu(#"^[[a]+\$$"#) == #"^[\[a]+\$\z"#)
    }
}
