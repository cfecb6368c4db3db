import Foundation
import LeadlineRPC

/// Validates JSON values against the draft-07 keywords Schemas/ uses. Messages name the path
/// and the rule, never the value (params can hold secrets and personal data).
public struct SchemaValidator: Sendable {
    /// Where `$ref`s resolve: the whole document the schemas live in.
    private let root: JSONValue

    public init(root: JSONValue) {
        self.root = root
    }

    /// The first problem found, or nil when `value` is valid. Compiles `schema` for this one
    /// check: a schema checked again and again belongs in a ``CompiledSchema``.
    public func validate(_ value: JSONValue, against schema: JSONValue, at path: String = "") -> String? {
        compile(schema).validate(value, at: path)
    }

    public func compile(_ schema: JSONValue) -> CompiledSchema {
        var compiler = SchemaCompiler(root: root)
        return CompiledSchema(node: compiler.compile(schema))
    }

    static let dateTimePattern = #"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"#

    static func isDateTime(_ string: String) -> Bool {
        if let verdict = isPrintableDateTime(string) { return verdict }
        guard let regex = RegexCache.shared.regex(dateTimePattern) else { return false }
        return regex.firstMatch(in: string, range: NSRange(string.startIndex..., in: string)) != nil
    }

    /// `dateTimePattern` read byte by byte, for text of printable ASCII only (there `\d` is 0-9
    /// and `$` the end); nil for any other text, which the regex decides. Every lead carries two.
    static func isPrintableDateTime(_ string: String) -> Bool? {
        var string = string
        return string.withUTF8 { bytes -> Bool? in
            for byte in bytes where byte < 0x20 || byte > 0x7E { return nil }
            var index = 0
            func digits(_ count: Int) -> Bool {
                guard index + count <= bytes.count else { return false }
                for offset in 0..<count where !(0x30...0x39).contains(bytes[index + offset]) { return false }
                index += count
                return true
            }
            func byte(_ allowed: String) -> Bool {
                guard index < bytes.count, allowed.utf8.contains(bytes[index]) else { return false }
                index += 1
                return true
            }
            guard digits(4), byte("-"), digits(2), byte("-"), digits(2), byte("Tt "), digits(2), byte(":"),
                digits(2), byte(":"), digits(2)
            else { return false }
            if byte(".") {
                guard digits(1) else { return false }
                while digits(1) {}
            }
            if byte("Zz") { return index == bytes.count }
            guard byte("+-"), digits(2), byte(":"), digits(2) else { return false }
            return index == bytes.count
        }
    }
}

/// A schema read once, checked many times (every request's params against its method's).
public struct CompiledSchema: Sendable {
    let node: SchemaNode

    /// The first problem found, or nil when `value` is valid.
    public func validate(_ value: JSONValue, at path: String = "") -> String? {
        var location = SchemaPath(path)
        return node.check(value, at: &location)
    }
}

/// Schemas use a few dozen patterns; compiling one per check was most of a params check's cost.
final class RegexCache: @unchecked Sendable {
    static let shared = RegexCache()
    private let lock = NSLock()
    private var compiled: [String: NSRegularExpression] = [:]

    func regex(_ pattern: String) -> NSRegularExpression? {
        lock.lock()
        defer { lock.unlock() }
        if let regex = compiled[pattern] { return regex }
        guard let regex = try? NSRegularExpression(pattern: ECMAPattern.icu(pattern)) else { return nil }
        compiled[pattern] = regex
        return regex
    }
}
