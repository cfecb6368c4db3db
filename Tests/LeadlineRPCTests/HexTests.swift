import Foundation
import Testing

@testable import LeadlineRPC

@Suite struct HexTests {
    @Test func everyByteIsTwoLowerCaseDigitsAndDecodesBack() {
        let all = (0...255).map { UInt8($0) }
        let encoded = Hex.encode(all)
        #expect(encoded == all.map { String(format: "%02x", $0) }.joined())
        #expect(Hex.decode(encoded) == all)
        #expect(Hex.encode([UInt8]()) == "")
        // Any sequence of bytes, as the digests are: a slice and a raw buffer.
        #expect(Hex.encode(all[250...]) == "fafbfcfdfeff")
        #expect(all.withUnsafeBytes { Hex.encode($0.prefix(2)) } == "0001")
    }
}
