import Foundation

/// The patterns Schemas/ uses most (`^[A-Za-z0-9._:-]{1,128}$`, `^\S{1,200}$`, emails, trimmed
/// text), matched without NSRegularExpression, whose call (the string bridged to UTF-16 for ICU)
/// was most of a schema check. Only for text of printable ASCII (0x20-0x7E), where ICU's classes
/// and anchors mean one plain thing (`\s` is the space, `\d` the ten digits, `$` the end, as no
/// line terminator can occur): any other text, and any pattern beyond this small grammar, goes to
/// the regular expression, so a verdict never depends on which path gave it.
struct SimplePattern: Sendable {
    /// A set of printable ASCII characters, bit c set for character c.
    struct CharacterSet: Sendable {
        var low: UInt64 = 0  // 0x00-0x3F
        var high: UInt64 = 0  // 0x40-0x7F

        static let printable: CharacterSet = {
            var set = CharacterSet()
            for byte in UInt8(0x20)...0x7E { set.insert(byte) }
            return set
        }()

        mutating func insert(_ byte: UInt8) {
            if byte < 64 { low |= 1 << UInt64(byte) } else if byte < 128 { high |= 1 << UInt64(byte - 64) }
        }

        mutating func insert(_ range: ClosedRange<UInt8>) { for byte in range { insert(byte) } }

        mutating func formUnion(_ other: CharacterSet) {
            low |= other.low
            high |= other.high
        }

        /// The printable characters not in the set.
        var inverted: CharacterSet {
            CharacterSet(low: ~low & Self.printable.low, high: ~high & Self.printable.high)
        }

        @inline(__always)
        func contains(_ byte: UInt8) -> Bool {
            byte < 64 ? low & (1 << UInt64(byte)) != 0 : high & (1 << UInt64(byte & 63)) != 0
        }
    }

    enum Shape: Sendable {
        /// Atoms in sequence, each repeated between its bounds, anchored at both ends.
        case sequence([(characters: CharacterSet, minimum: Int, maximum: Int)])
        /// `^\S(?:[\s\S]*\S)?$`: not empty, no space at either end.
        case trimmed
    }

    let shape: Shape

    /// nil when the pattern is outside the grammar this type reads.
    init?(_ pattern: String) {
        if pattern == #"^\S(?:[\s\S]*\S)?$"# {
            shape = .trimmed
            return
        }
        guard let atoms = Self.parse(Array(pattern.utf8)) else { return nil }
        shape = .sequence(atoms)
    }

    /// The verdict, or nil when the text is not all printable ASCII (the caller asks the regex).
    func matches(_ text: String) -> Bool? {
        var text = text
        return text.withUTF8 { bytes -> Bool? in
            for byte in bytes where byte < 0x20 || byte > 0x7E { return nil }
            switch shape {
            case .trimmed:
                guard let first = bytes.first, let last = bytes.last else { return false }
                return first != 0x20 && last != 0x20
            case .sequence(let atoms):
                return Self.matches(bytes, atoms)
            }
        }
    }

    /// Every position each atom can end at, from the start: the text matches when the last
    /// atom can end at its end. Exact for any sequence, backtracking included.
    private static func matches(
        _ bytes: UnsafeBufferPointer<UInt8>, _ atoms: [(characters: CharacterSet, minimum: Int, maximum: Int)]
    ) -> Bool {
        let count = bytes.count
        var reachable = [Bool](repeating: false, count: count + 1)
        reachable[0] = true
        var next = [Bool](repeating: false, count: count + 1)
        for atom in atoms {
            for index in next.indices { next[index] = false }
            var any = false
            for start in 0...count where reachable[start] {
                var run = 0
                while run < atom.maximum && start + run < count && atom.characters.contains(bytes[start + run]) {
                    run += 1
                }
                if run >= atom.minimum {
                    for end in (start + atom.minimum)...(start + run) { next[end] = true }
                    any = true
                }
            }
            guard any else { return false }
            swap(&reachable, &next)
        }
        return reachable[count]
    }

    // MARK: reading patterns

    /// `^`, then atoms (a class, an escape or a literal) each with an optional quantifier, then `$`.
    private static func parse(_ pattern: [UInt8]) -> [(characters: CharacterSet, minimum: Int, maximum: Int)]? {
        guard pattern.count >= 2, pattern.first == UInt8(ascii: "^"), pattern.last == UInt8(ascii: "$") else {
            return nil
        }
        var atoms: [(characters: CharacterSet, minimum: Int, maximum: Int)] = []
        var index = 1
        let end = pattern.count - 1
        while index < end {
            let characters: CharacterSet
            switch pattern[index] {
            case UInt8(ascii: "["):
                guard let (set, after) = parseClass(pattern, from: index + 1, end: end) else { return nil }
                characters = set
                index = after
            case UInt8(ascii: "\\"):
                guard index + 1 < end, let set = escape(pattern[index + 1]) else { return nil }
                characters = set
                index += 2
            case let byte where isLiteral(byte):
                var set = CharacterSet()
                set.insert(byte)
                characters = set
                index += 1
            default:
                return nil  // groups, alternation, dots, anchors inside: the regex's business
            }
            guard let (minimum, maximum, after) = parseQuantifier(pattern, from: index, end: end) else { return nil }
            atoms.append((characters, minimum, maximum))
            index = after
        }
        return atoms
    }

    private static func isLiteral(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "@"), UInt8(ascii: "_"), UInt8(ascii: "-"),
            UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "#"), UInt8(ascii: "="), UInt8(ascii: ","),
            UInt8(ascii: " "):
            return true
        default:
            return false
        }
    }

    /// What an escape means inside or outside a class; nil for one this type does not read.
    private static func escape(_ byte: UInt8) -> CharacterSet? {
        var set = CharacterSet()
        switch byte {
        case UInt8(ascii: "s"): set.insert(0x20)
        case UInt8(ascii: "S"): set = Self.spaceless
        case UInt8(ascii: "d"): set.insert(UInt8(ascii: "0")...UInt8(ascii: "9"))
        case UInt8(ascii: "w"):
            set.insert(UInt8(ascii: "a")...UInt8(ascii: "z"))
            set.insert(UInt8(ascii: "A")...UInt8(ascii: "Z"))
            set.insert(UInt8(ascii: "0")...UInt8(ascii: "9"))
            set.insert(UInt8(ascii: "_"))
        case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "+"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "$"),
            UInt8(ascii: "?"), UInt8(ascii: "*"), UInt8(ascii: "#"), UInt8(ascii: "@"):
            set.insert(byte)
        default:
            return nil
        }
        return set
    }

    private static let spaceless: CharacterSet = {
        var space = CharacterSet()
        space.insert(0x20)
        return space.inverted
    }()

    /// A bracket expression from just after its `[`: the set and the index after its `]`.
    private static func parseClass(_ pattern: [UInt8], from start: Int, end: Int) -> (CharacterSet, Int)? {
        var index = start
        var negated = false
        if index < end, pattern[index] == UInt8(ascii: "^") {
            negated = true
            index += 1
        }
        var set = CharacterSet()
        var first = true
        while index < end {
            let byte = pattern[index]
            if byte == UInt8(ascii: "]") && !first {
                return (negated ? set.inverted : set, index + 1)
            }
            first = false
            var low: UInt8
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < end else { return nil }
                let escaped = pattern[index + 1]
                if escaped == UInt8(ascii: "x") {
                    guard let value = hexEscape(pattern, at: index, end: end) else { return nil }
                    low = value
                    index += 4
                } else {
                    guard let escapedSet = escape(escaped) else { return nil }
                    index += 2
                    // A class escape (\s, \S, \d, \w) stands alone; a literal escape may start a range.
                    if [UInt8(ascii: "s"), UInt8(ascii: "S"), UInt8(ascii: "d"), UInt8(ascii: "w")].contains(escaped) {
                        set.formUnion(escapedSet)
                        continue
                    }
                    low = escaped
                }
            } else if byte == UInt8(ascii: "[") {
                return nil  // nested classes and POSIX names
            } else {
                low = byte
                index += 1
            }
            // A range "a-z" (a "-" before the closing bracket is a literal).
            if index + 1 < end, pattern[index] == UInt8(ascii: "-"), pattern[index + 1] != UInt8(ascii: "]") {
                var high = pattern[index + 1]
                if high == UInt8(ascii: "\\") {
                    guard let value = hexEscape(pattern, at: index + 1, end: end) else { return nil }
                    high = value
                    index += 5
                } else {
                    index += 2
                }
                guard low <= high else { return nil }
                set.insert(low...high)
            } else {
                set.insert(low)
            }
        }
        return nil
    }

    /// The character of a `\xHH` escape whose backslash is at `index`.
    private static func hexEscape(_ pattern: [UInt8], at index: Int, end: Int) -> UInt8? {
        guard index + 3 < end, pattern[index] == UInt8(ascii: "\\"), pattern[index + 1] == UInt8(ascii: "x") else {
            return nil
        }
        return UInt8(String(decoding: pattern[(index + 2)...(index + 3)], as: UTF8.self), radix: 16)
    }

    /// `{m,n}`, `{m}`, `{m,}`, `+`, `*`, `?` or nothing: the bounds and the index after.
    private static func parseQuantifier(_ pattern: [UInt8], from start: Int, end: Int) -> (Int, Int, Int)? {
        guard start < end else { return (1, 1, start) }
        switch pattern[start] {
        case UInt8(ascii: "+"): return (1, Int.max, start + 1)
        case UInt8(ascii: "*"): return (0, Int.max, start + 1)
        case UInt8(ascii: "?"): return (0, 1, start + 1)
        case UInt8(ascii: "{"):
            guard let close = pattern[start..<end].firstIndex(of: UInt8(ascii: "}")) else { return nil }
            let body = String(decoding: pattern[(start + 1)..<close], as: UTF8.self)
            let parts = body.split(separator: ",", omittingEmptySubsequences: false)
            guard let minimum = parts.first.flatMap({ Int($0) }) else { return nil }
            let maximum: Int
            switch parts.count {
            case 1: maximum = minimum
            case 2: maximum = parts[1].isEmpty ? Int.max : (Int(parts[1]) ?? -1)
            default: return nil
            }
            guard maximum >= minimum else { return nil }
            // A lazy or possessive quantifier changes nothing about whether a whole text matches,
            // but keep the grammar small.
            if close + 1 < end, [UInt8(ascii: "?"), UInt8(ascii: "+")].contains(pattern[close + 1]) { return nil }
            return (minimum, maximum, close + 1)
        default:
            return (1, 1, start)
        }
    }
}
