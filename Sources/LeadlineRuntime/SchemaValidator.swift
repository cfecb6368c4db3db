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

    static func isDateTime(_ string: String) -> Bool {
        let pattern = #"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"#
        guard let regex = RegexCache.shared.regex(pattern) else { return false }
        return regex.firstMatch(in: string, range: NSRange(string.startIndex..., in: string)) != nil
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
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return nil }
        compiled[pattern] = regex
        return regex
    }
}
