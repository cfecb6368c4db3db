/// A table header whose `[` is not followed by a key ("[#]", "[" then a newline) trips an
/// assertion inside toml++ (the parser under TOMLKit 0.6.0) instead of a parse error; in a
/// release build that is undefined behaviour. Found by make fuzz. This scan rejects those
/// headers first, with the line, and leaves every other judgement to the real parser. It
/// follows strings, comments and bracket depth so that array elements and string contents
/// that start a line with "[" are not mistaken for headers.
enum TableHeaderCheck {
    static func firstBadHeader(in text: String) -> Int? {
        let bytes = Array(text.utf8)
        var index = 0
        var line = 1
        var depth = 0
        var atLineStart = true

        func peek(_ offset: Int = 0) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        func isKeyStart(_ byte: UInt8?) -> Bool {
            guard let byte else { return false }
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""),
                UInt8(ascii: "'"):
                return true
            default: return false
            }
        }
        // Past the closing quote(s); a single-line string also ends (unterminated) at its line's end.
        func skip(until terminator: [UInt8], escapes: Bool, singleLine: Bool) {
            while index < bytes.count {
                if escapes && bytes[index] == UInt8(ascii: "\\") {
                    index += 2
                    continue
                }
                if bytes[index] == UInt8(ascii: "\n") {
                    if singleLine { return }
                    line += 1
                }
                if bytes[index...].starts(with: terminator) {
                    index += terminator.count
                    return
                }
                index += 1
            }
        }

        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\n"):
                line += 1
                atLineStart = true
                index += 1
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
                continue
            case UInt8(ascii: "#"):
                while let next = peek(), next != UInt8(ascii: "\n") { index += 1 }
                continue
            case UInt8(ascii: "[") where atLineStart && depth == 0:
                index += 1
                if peek() == UInt8(ascii: "[") { index += 1 }
                while peek() == UInt8(ascii: " ") || peek() == UInt8(ascii: "\t") { index += 1 }
                guard isKeyStart(peek()) else { return line }
                // The rest of the header line is the parser's to judge.
                while let next = peek(), next != UInt8(ascii: "\n") {
                    if next == UInt8(ascii: "\"") || next == UInt8(ascii: "'") {
                        index += 1
                        skip(until: [next], escapes: next == UInt8(ascii: "\""), singleLine: true)
                    } else {
                        index += 1
                    }
                }
                continue
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                let triple = [byte, byte, byte]
                if bytes[index...].starts(with: triple) {
                    index += 3
                    skip(until: triple, escapes: byte == UInt8(ascii: "\""), singleLine: false)
                } else {
                    index += 1
                    skip(until: [byte], escapes: byte == UInt8(ascii: "\""), singleLine: true)
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                index += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
                index += 1
            default:
                index += 1
            }
            atLineStart = false
        }
        return nil
    }
}
