import Foundation
import LeadlineRPC
import Testing

@testable import AuditCore

/// The buffer the canonical bytes are built in escapes eight bytes at a time when it can: it
/// must write exactly what the byte-at-a-time rule says, wherever a byte that needs escaping falls.
@Suite struct CanonicalBufferTests {
    /// The rule as documented in CanonicalEncoding, one byte at a time.
    static func reference(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
            case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        return out
    }

    @Test func escapingMatchesTheByteAtATimeRuleEverywhere() {
        var generator = SystemRandomNumberGenerator()
        let special: [UInt8] = [0x00, 0x0a, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xc3, 0xff]
        var buffer = CanonicalBuffer(capacity: 8)
        for length in 0..<48 {
            for _ in 0..<40 {
                var bytes = (0..<length).map { _ in UInt8(ascii: "a") + UInt8.random(in: 0..<26, using: &generator) }
                // Zero to three bytes that need care, at random places.
                for _ in 0..<Int.random(in: 0...3, using: &generator) where length > 0 {
                    bytes[Int.random(in: 0..<length, using: &generator)] = special.randomElement(using: &generator)!
                }
                buffer.removeAll()
                bytes.withUnsafeBufferPointer { buffer.appendEscaped($0) }
                #expect(buffer.bytes == Self.reference(bytes), "\(bytes)")
            }
        }
        // Every byte value in every position of a word.
        for value in UInt8.min...UInt8.max {
            for position in 0..<16 {
                var bytes = [UInt8](repeating: UInt8(ascii: "x"), count: 16)
                bytes[position] = value
                buffer.removeAll()
                bytes.withUnsafeBufferPointer { buffer.appendEscaped($0) }
                #expect(buffer.bytes == Self.reference(bytes), "\(value) at \(position)")
            }
        }
    }

    /// Sources without contiguous storage take a copy first; Strings and column buffers never do.
    @Test func aSourceWithoutContiguousStorageIsEscapedTheSame() {
        let bytes = Array("a\"b\\c\n\u{1}dé".utf8)
        let reversed = bytes.reversed()
        #expect(reversed.withContiguousStorageIfAvailable { _ in true } == nil)
        var buffer = CanonicalBuffer()
        CanonicalEncoding.appendString(reversed, to: &buffer)
        #expect(buffer.bytes == Array("\"".utf8) + Self.reference(Array(reversed)) + Array("\"".utf8))
        buffer.removeAll()
        buffer.append(contentsOf: reversed)
        #expect(buffer.bytes == Array(reversed))
    }

    @Test func decimalsAreWrittenAsSwiftWritesThem() {
        var buffer = CanonicalBuffer()
        var values: [Int64] = [0, 1, -1, 9, 10, 99, 100, 999_999, 1_000_000, .max, .min, .max - 1, .min + 1]
        for power in 0..<19 {
            let ten = Int64(pow(10.0, Double(power)))
            values += [ten - 1, ten, ten + 1, -ten]
        }
        for value in values {
            buffer.removeAll()
            buffer.appendDecimal(value)
            #expect(String(decoding: buffer.bytes, as: UTF8.self) == String(value))
        }
    }

    @Test func theBufferGrowsPastItsFirstCapacity() {
        var buffer = CanonicalBuffer(capacity: 1)
        let text = Array(String(repeating: "ab\"c\n", count: 500).utf8)
        text.withUnsafeBufferPointer { buffer.appendEscaped($0) }
        buffer.append(#"{"x":"#)
        buffer.appendDecimal(.min)
        #expect(buffer.bytes == Self.reference(text) + Array(#"{"x":-9223372036854775808"#.utf8))
    }
}
