import LeadlineRPC

/// Where canonical bytes are built: a growable buffer written through a pointer, with room made
/// once per piece instead of checked on every byte as Array.append does. Verification rebuilds
/// one event's bytes per row, so this is on its hot path; one buffer serves a whole scan.
struct CanonicalBuffer: ~Copyable {
    private var start: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 256) {
        self.capacity = max(capacity, 64)
        start = .allocate(capacity: self.capacity)
    }

    deinit { start.deallocate() }

    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: start, count: count)) }

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: start, count: count))
    }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        let larger = max(needed, capacity * 2)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
        moved.update(from: start, count: count)
        start.deallocate()
        start = moved
        capacity = larger
    }

    mutating func append(_ byte: UInt8) {
        reserve(1)
        start[count] = byte
        count += 1
    }

    mutating func append(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (start + count).update(from: base, count: bytes.count)
        count += bytes.count
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        append(bytes.assumingMemoryBound(to: UInt8.self))
    }

    mutating func append<Bytes: Collection<UInt8>>(contentsOf bytes: Bytes) {
        let copied: Void? = bytes.withContiguousStorageIfAvailable { append($0) }
        if copied == nil { Array(bytes).withUnsafeBufferPointer { append($0) } }
    }

    /// Decimal digits, with a sign when negative.
    mutating func appendDecimal(_ value: Int64) {
        reserve(20)
        if value < 0 {
            start[count] = UInt8(ascii: "-")
            count += 1
        }
        var digits = 1
        var rest = value.magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var magnitude = value.magnitude
        var index = count + digits
        repeat {
            index -= 1
            start[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        count += digits
    }

    /// The contents of a JSON string: `"` and `\` escaped by a backslash, bytes below U+0020 as
    /// `\u00xx` (lower-case hex), every other byte as it is. Eight bytes at a time while none of
    /// them needs escaping, which is nearly always.
    mutating func appendEscaped(_ text: UnsafeBufferPointer<UInt8>) {
        guard let source = text.baseAddress else { return }
        reserve(text.count * 6)
        var out = start + count
        var index = 0
        while index < text.count {
            if index + 8 <= text.count {
                let word = UnsafeRawPointer(source + index).loadUnaligned(as: UInt64.self)
                if !Self.needsEscaping(word) {
                    UnsafeMutableRawPointer(out).storeBytes(of: word, as: UInt64.self)
                    out += 8
                    index += 8
                    continue
                }
            }
            let byte = source[index]
            index += 1
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                out.pointee = byte
                out += 1
            } else if byte >= 0x20 {
                out[0] = UInt8(ascii: "\\")
                out[1] = byte
                out += 2
            } else {
                out[0] = UInt8(ascii: "\\")
                out[1] = UInt8(ascii: "u")
                out[2] = UInt8(ascii: "0")
                out[3] = UInt8(ascii: "0")
                out[4] = Hex.digits[Int(byte >> 4)]
                out[5] = Hex.digits[Int(byte & 0x0f)]
                out += 6
            }
        }
        count = out - start
    }

    /// Whether any of eight bytes is below 0x20, `"` or `\` (the classic "has a zero byte" bit
    /// trick: exact about whether one exists, not about which).
    @inline(__always)
    private static func needsEscaping(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let control = (word &- ones &* 0x20) & ~word & highs != 0
        return control || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5c))
    }
}
