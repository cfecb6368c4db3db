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

    /// The first problem found, or nil when `value` is valid.
    public func validate(_ value: JSONValue, against schema: JSONValue, at path: String = "") -> String? {
        guard case .object(let rules) = schema else {
            if schema == .bool(false) { return "\(label(path)) is not allowed" }
            return nil
        }
        if case .string(let reference)? = rules["$ref"] {
            guard let target = resolve(reference) else { return "\(label(path)): unresolvable schema reference" }
            return validate(value, against: target, at: path)
        }
        if let types = rules["type"], !matchesType(value, types) {
            return "\(label(path)) must be \(describeTypes(types)), not \(value.typeName)"
        }
        if case .array(let allowed)? = rules["enum"], !allowed.contains(where: { equalJSON($0, value) }) {
            let names = allowed.compactMap(\.stringValue)
            return names.count == allowed.count && names.count <= 12
                ? "\(label(path)) must be one of: \(names.joined(separator: ", "))"
                : "\(label(path)) is not one of the allowed values"
        }
        if let constant = rules["const"], !equalJSON(constant, value) {
            return "\(label(path)) must be the constant the schema fixes"
        }
        switch value {
        case .string(let string):
            if let problem = checkString(string, rules, path) { return problem }
        case .int, .double:
            if let problem = checkNumber(value.doubleValue ?? 0, rules, path) { return problem }
        case .array(let items):
            if let problem = checkArray(items, rules, path) { return problem }
        case .object(let object):
            if let problem = checkObject(object, rules, path) { return problem }
        default: break
        }
        if case .array(let all)? = rules["allOf"] {
            for schema in all { if let problem = validate(value, against: schema, at: path) { return problem } }
        }
        if case .array(let any)? = rules["anyOf"],
            !any.contains(where: { validate(value, against: $0, at: path) == nil })
        {
            return "\(label(path)) matches none of the allowed shapes"
        }
        if case .array(let one)? = rules["oneOf"] {
            let matches = one.filter { validate(value, against: $0, at: path) == nil }.count
            if matches != 1 { return "\(label(path)) must match exactly one allowed shape (matches \(matches))" }
        }
        if let not = rules["not"], validate(value, against: not, at: path) == nil {
            return "\(label(path)) has a shape that is not allowed"
        }
        return nil
    }

    private func checkString(_ string: String, _ rules: [String: JSONValue], _ path: String) -> String? {
        let length = string.count
        if let minimum = rules["minLength"]?.intValue, length < minimum {
            return "\(label(path)) must be at least \(minimum) characters long"
        }
        if let maximum = rules["maxLength"]?.intValue, length > maximum {
            return "\(label(path)) must be at most \(maximum) characters long"
        }
        if case .string(let pattern)? = rules["pattern"] {
            guard let regex = RegexCache.shared.regex(pattern) else { return nil }
            let range = NSRange(string.startIndex..., in: string)
            if regex.firstMatch(in: string, range: range) == nil {
                return "\(label(path)) does not match the pattern \(pattern)"
            }
        }
        if case .string(let format)? = rules["format"], format == "date-time", !Self.isDateTime(string) {
            return "\(label(path)) must be an RFC 3339 date-time (e.g. 2026-12-01T10:00:00Z)"
        }
        return nil
    }

    private func checkNumber(_ number: Double, _ rules: [String: JSONValue], _ path: String) -> String? {
        if let minimum = rules["minimum"]?.doubleValue, number < minimum {
            return "\(label(path)) must be at least \(Self.format(minimum))"
        }
        if let maximum = rules["maximum"]?.doubleValue, number > maximum {
            return "\(label(path)) must be at most \(Self.format(maximum))"
        }
        if let minimum = rules["exclusiveMinimum"]?.doubleValue, number <= minimum {
            return "\(label(path)) must be greater than \(Self.format(minimum))"
        }
        if let maximum = rules["exclusiveMaximum"]?.doubleValue, number >= maximum {
            return "\(label(path)) must be less than \(Self.format(maximum))"
        }
        return nil
    }

    private func checkArray(_ items: [JSONValue], _ rules: [String: JSONValue], _ path: String) -> String? {
        if let minimum = rules["minItems"]?.intValue, items.count < minimum {
            return "\(label(path)) must have at least \(minimum) items"
        }
        if let maximum = rules["maxItems"]?.intValue, items.count > maximum {
            return "\(label(path)) must have at most \(maximum) items"
        }
        if rules["uniqueItems"] == .bool(true), Set(items).count != items.count {
            return "\(label(path)) must not repeat items"
        }
        if let itemSchema = rules["items"], itemSchema.arrayValue == nil {
            for (index, item) in items.enumerated() {
                if let problem = validate(item, against: itemSchema, at: "\(path)[\(index)]") { return problem }
            }
        }
        return nil
    }

    private func checkObject(_ object: [String: JSONValue], _ rules: [String: JSONValue], _ path: String) -> String? {
        if case .array(let required)? = rules["required"] {
            for case .string(let name) in required where object[name] == nil {
                return "missing required \(label(join(path, name)))"
            }
        }
        // Draft 07's "dependencies" (array form) and its 2019-09 name "dependentRequired": a member
        // that is present requires the others (audit.append's spoolId and spoolSeq go together).
        for keyword in ["dependencies", "dependentRequired"] {
            for (name, needed) in rules[keyword]?.objectValue ?? [:] where object[name] != nil {
                guard case .array(let others) = needed else { continue }
                for case .string(let other) in others where object[other] == nil {
                    return "\(label(join(path, name))) requires \(label(join(path, other)))"
                }
            }
        }
        let properties = rules["properties"]?.objectValue ?? [:]
        let patterns = rules["patternProperties"]?.objectValue ?? [:]
        if let minimum = rules["minProperties"]?.intValue, object.count < minimum {
            return "\(label(path)) must have at least \(minimum) members"
        }
        if let maximum = rules["maxProperties"]?.intValue, object.count > maximum {
            return "\(label(path)) must have at most \(maximum) members"
        }
        for name in object.keys.sorted() {
            let value = object[name]!
            var matched = false
            if let schema = properties[name] {
                matched = true
                if let problem = validate(value, against: schema, at: join(path, name)) { return problem }
            }
            for (pattern, schema) in patterns {
                guard let regex = RegexCache.shared.regex(pattern),
                    regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
                else { continue }
                matched = true
                if let problem = validate(value, against: schema, at: join(path, name)) { return problem }
            }
            if !matched, let additional = rules["additionalProperties"] {
                if additional == .bool(false) { return "unknown \(label(join(path, name)))" }
                if let problem = validate(value, against: additional, at: join(path, name)) { return problem }
            }
            if let names = rules["propertyNames"],
                let problem = validate(.string(name), against: names, at: join(path, name))
            {
                return problem
            }
        }
        return nil
    }

    private func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#") else { return nil }
        var node = root
        for part in reference.dropFirst().split(separator: "/") {
            let key = part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if case .array(let array) = node, let index = Int(key), array.indices.contains(index) {
                node = array[index]
            } else if let next = node[key] {
                node = next
            } else {
                return nil
            }
        }
        return node
    }

    private func matchesType(_ value: JSONValue, _ types: JSONValue) -> Bool {
        let names: [String] = types.arrayValue?.compactMap(\.stringValue) ?? [types.stringValue].compactMap { $0 }
        return names.contains { name in
            switch (name, value) {
            case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object):
                return true
            case ("integer", .int): return true
            case ("integer", .double(let number)): return number.rounded() == number
            case ("number", .int), ("number", .double): return true
            default: return false
            }
        }
    }

    private func describeTypes(_ types: JSONValue) -> String {
        let names: [String] = types.arrayValue?.compactMap(\.stringValue) ?? [types.stringValue].compactMap { $0 }
        return names.map { ["array", "integer", "object"].contains($0) ? "an \($0)" : "a \($0)" }.joined(
            separator: " or ")
    }

    private func equalJSON(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return a == b
    }

    private func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
    private func label(_ path: String) -> String { path.isEmpty ? "the value" : "param '\(path)'" }

    private static func format(_ number: Double) -> String {
        number.rounded() == number ? String(Int64(number)) : String(number)
    }

    static func isDateTime(_ string: String) -> Bool {
        let pattern = #"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"#
        guard let regex = RegexCache.shared.regex(pattern) else { return false }
        return regex.firstMatch(in: string, range: NSRange(string.startIndex..., in: string)) != nil
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
