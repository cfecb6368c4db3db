import Foundation
import LeadlineRPC

/// One schema with its keywords read once: checking a value walks these fields instead of
/// looking up every draft-07 keyword by name in the schema's JSON at every node, which was a
/// third of a params check (a fifth of the router's CPU per enqueued lead went to checks).
/// Immutable once compiled; `$ref` targets are compiled once and shared, cycles included.
final class SchemaNode: @unchecked Sendable {
    enum Body {
        /// `true`, an empty schema, or anything that is not an object: every value passes.
        case anything
        /// `false`: no value passes.
        case nothing
        /// `$ref`: the target decides alone (draft 07 ignores keywords beside it); nil when unresolvable.
        case reference(SchemaNode?)
        case rules(Rules)
    }

    /// A class, not a struct: matching `.rules(let rules)` at every node of every check copied
    /// some thirty fields and retained each reference among them.
    final class Rules {
        var types: (names: [String], description: String)?
        var allowed: (values: [JSONValue], complaint: String)?
        var constant: JSONValue?
        var minLength: Int64?
        var maxLength: Int64?
        var pattern: (text: String, matcher: PatternMatcher)?
        var dateTime = false
        var minimum: Double?
        var maximum: Double?
        var exclusiveMinimum: Double?
        var exclusiveMaximum: Double?
        var minItems: Int64?
        var maxItems: Int64?
        var uniqueItems = false
        var items: SchemaNode?
        var required: [String] = []
        var together: [(name: String, needs: [String])] = []
        var properties: [String: SchemaNode] = [:]
        var patternProperties: [(matcher: PatternMatcher, schema: SchemaNode)] = []
        var minProperties: Int64?
        var maxProperties: Int64?
        var additional: SchemaNode?
        var propertyNames: SchemaNode?
        var allOf: [SchemaNode] = []
        var anyOf: [SchemaNode]?
        var oneOf: [SchemaNode]?
        var not: SchemaNode?
        /// Whether the object keywords need to look at members at all.
        var checksMembers: Bool {
            !properties.isEmpty || !patternProperties.isEmpty || additional != nil || propertyNames != nil
        }
    }

    /// Set once by the compiler, before the node is reachable from anywhere else.
    fileprivate(set) var body: Body = .anything

    // MARK: checking

    /// The first problem, or nil. `path` is where `value` sits; it is rendered only for a message.
    func check(_ value: JSONValue, at path: inout SchemaPath) -> String? {
        switch body {
        case .anything: return nil
        case .nothing: return "\(path.label) is not allowed"
        case .reference(let target?): return target.check(value, at: &path)
        case .reference(nil): return "\(path.label): unresolvable schema reference"
        case .rules(let rules): return check(value, rules, at: &path)
        }
    }

    private func check(_ value: JSONValue, _ rules: Rules, at path: inout SchemaPath) -> String? {
        if let types = rules.types, !Self.matches(value, types.names) {
            return "\(path.label) must be \(types.description), not \(value.typeName)"
        }
        if let allowed = rules.allowed, !allowed.values.contains(where: { Self.equal($0, value) }) {
            return "\(path.label) \(allowed.complaint)"
        }
        if let constant = rules.constant, !Self.equal(constant, value) {
            return "\(path.label) must be the constant the schema fixes"
        }
        switch value {
        case .string(let string):
            if let problem = checkString(string, rules, at: &path) { return problem }
        case .int, .double:
            if let problem = checkNumber(value.doubleValue ?? 0, rules, at: &path) { return problem }
        case .array(let items):
            if let problem = checkArray(items, rules, at: &path) { return problem }
        case .object(let object):
            if let problem = checkObject(object, rules, at: &path) { return problem }
        default: break
        }
        for schema in rules.allOf {
            if let problem = schema.check(value, at: &path) { return problem }
        }
        if let any = rules.anyOf, !any.contains(where: { $0.check(value, at: &path) == nil }) {
            return "\(path.label) matches none of the allowed shapes"
        }
        if let one = rules.oneOf {
            let matches = one.filter { $0.check(value, at: &path) == nil }.count
            if matches != 1 { return "\(path.label) must match exactly one allowed shape (matches \(matches))" }
        }
        if let not = rules.not, not.check(value, at: &path) == nil {
            return "\(path.label) has a shape that is not allowed"
        }
        return nil
    }

    private func checkString(_ string: String, _ rules: Rules, at path: inout SchemaPath) -> String? {
        if rules.minLength != nil || rules.maxLength != nil {
            // Draft 07 counts characters as RFC 8259 does, in code points (as Python's
            // jsonschema does in the schema tests), not in grapheme clusters as String.count.
            let length = string.unicodeScalars.count
            if let minimum = rules.minLength, length < minimum {
                return "\(path.label) must be at least \(minimum) characters long"
            }
            if let maximum = rules.maxLength, length > maximum {
                return "\(path.label) must be at most \(maximum) characters long"
            }
        }
        if let pattern = rules.pattern, pattern.matcher.matches(string) == false {
            return "\(path.label) does not match the pattern \(pattern.text)"
        }
        if rules.dateTime, !SchemaValidator.isDateTime(string) {
            return "\(path.label) must be an RFC 3339 date-time (e.g. 2026-12-01T10:00:00Z)"
        }
        return nil
    }

    private func checkNumber(_ number: Double, _ rules: Rules, at path: inout SchemaPath) -> String? {
        if let minimum = rules.minimum, number < minimum {
            return "\(path.label) must be at least \(Self.format(minimum))"
        }
        if let maximum = rules.maximum, number > maximum {
            return "\(path.label) must be at most \(Self.format(maximum))"
        }
        if let minimum = rules.exclusiveMinimum, number <= minimum {
            return "\(path.label) must be greater than \(Self.format(minimum))"
        }
        if let maximum = rules.exclusiveMaximum, number >= maximum {
            return "\(path.label) must be less than \(Self.format(maximum))"
        }
        return nil
    }

    private func checkArray(_ items: [JSONValue], _ rules: Rules, at path: inout SchemaPath) -> String? {
        if let minimum = rules.minItems, items.count < minimum {
            return "\(path.label) must have at least \(minimum) items"
        }
        if let maximum = rules.maxItems, items.count > maximum {
            return "\(path.label) must have at most \(maximum) items"
        }
        if rules.uniqueItems, Set(items).count != items.count {
            return "\(path.label) must not repeat items"
        }
        if let schema = rules.items {
            for (index, item) in items.enumerated() {
                path.push(.index(index))
                defer { path.pop() }
                if let problem = schema.check(item, at: &path) { return problem }
            }
        }
        return nil
    }

    private func checkObject(_ object: [String: JSONValue], _ rules: Rules, at path: inout SchemaPath) -> String? {
        for name in rules.required where object[name] == nil {
            return "missing required \(path.label(appending: name))"
        }
        for (name, needs) in rules.together where object[name] != nil {
            for other in needs where object[other] == nil {
                return "\(path.label(appending: name)) requires \(path.label(appending: other))"
            }
        }
        if let minimum = rules.minProperties, object.count < minimum {
            return "\(path.label) must have at least \(minimum) members"
        }
        if let maximum = rules.maxProperties, object.count > maximum {
            return "\(path.label) must have at most \(maximum) members"
        }
        guard rules.checksMembers else { return nil }
        // The member that comes first by name answers, as if members were checked in that order;
        // in dictionary order the others are only compared by name, and only when one fails.
        var first: (name: String, problem: String)?
        for (name, value) in object {
            if let earlier = first, earlier.name < name { continue }
            path.push(.member(name))
            defer { path.pop() }
            if let problem = checkMember(name, value, rules, at: &path) { first = (name, problem) }
        }
        return first?.problem
    }

    /// One member against properties, patternProperties, additionalProperties and propertyNames;
    /// `path` ends with its name.
    private func checkMember(_ name: String, _ value: JSONValue, _ rules: Rules, at path: inout SchemaPath)
        -> String?
    {
        var matched = false
        if let schema = rules.properties[name] {
            matched = true
            if let problem = schema.check(value, at: &path) { return problem }
        }
        for (matcher, schema) in rules.patternProperties where matcher.matches(name) == true {
            matched = true
            if let problem = schema.check(value, at: &path) { return problem }
        }
        if !matched, let additional = rules.additional {
            if case .nothing = additional.body { return "unknown \(path.label)" }
            if let problem = additional.check(value, at: &path) { return problem }
        }
        if let names = rules.propertyNames, let problem = names.check(.string(name), at: &path) {
            return problem
        }
        return nil
    }

    // MARK: helpers

    private static func matches(_ value: JSONValue, _ names: [String]) -> Bool {
        names.contains { name in
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

    private static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return a == b
    }

    private static func format(_ number: Double) -> String {
        number.rounded() == number ? String(Int64(number)) : String(number)
    }
}

/// Where a value sits in the checked document, kept as segments and spelled out only for a
/// message ("param 'lead.fields.email'", "param 'events[3]'").
struct SchemaPath {
    enum Segment {
        case member(String)
        case index(Int)
    }

    private var prefix: String
    private var segments: [Segment] = []

    init(_ prefix: String = "") {
        self.prefix = prefix
        segments.reserveCapacity(8)
    }

    mutating func push(_ segment: Segment) { segments.append(segment) }
    mutating func pop() { segments.removeLast() }

    var text: String {
        var text = prefix
        for segment in segments {
            switch segment {
            case .member(let name): text = text.isEmpty ? name : "\(text).\(name)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }

    var label: String { Self.label(text) }

    func label(appending name: String) -> String {
        let text = self.text
        return Self.label(text.isEmpty ? name : "\(text).\(name)")
    }

    private static func label(_ text: String) -> String { text.isEmpty ? "the value" : "param '\(text)'" }
}

/// Reads schemas into nodes. `$ref`s resolve within `root` (JSON pointers from "#"), each
/// target compiled once, so a reference to itself is a cycle of nodes rather than endless work.
struct SchemaCompiler {
    let root: JSONValue
    private var targets: [String: SchemaNode] = [:]

    init(root: JSONValue) {
        self.root = root
    }

    mutating func compile(_ schema: JSONValue) -> SchemaNode {
        let node = SchemaNode()
        fill(node, from: schema)
        return node
    }

    private mutating func fill(_ node: SchemaNode, from schema: JSONValue) {
        guard case .object(let keywords) = schema else {
            node.body = schema == .bool(false) ? .nothing : .anything
            return
        }
        if case .string(let reference)? = keywords["$ref"] {
            node.body = .reference(target(reference))
            return
        }
        node.body = .rules(rules(keywords))
    }

    private mutating func target(_ reference: String) -> SchemaNode? {
        if let known = targets[reference] { return known }
        guard let schema = Self.resolve(reference, in: root) else { return nil }
        let node = SchemaNode()
        targets[reference] = node
        fill(node, from: schema)
        return node
    }

    private mutating func rules(_ keywords: [String: JSONValue]) -> SchemaNode.Rules {
        let rules = SchemaNode.Rules()
        if let types = keywords["type"] {
            let names: [String] = types.arrayValue?.compactMap(\.stringValue) ?? [types.stringValue].compactMap { $0 }
            let description = names.map { ["array", "integer", "object"].contains($0) ? "an \($0)" : "a \($0)" }
                .joined(separator: " or ")
            rules.types = (names, description)
        }
        if case .array(let allowed)? = keywords["enum"] {
            let names = allowed.compactMap(\.stringValue)
            let complaint =
                names.count == allowed.count && names.count <= 12
                ? "must be one of: \(names.joined(separator: ", "))" : "is not one of the allowed values"
            rules.allowed = (allowed, complaint)
        }
        rules.constant = keywords["const"]
        rules.minLength = keywords["minLength"]?.intValue
        rules.maxLength = keywords["maxLength"]?.intValue
        // A pattern that does not compile checks nothing, as before compilation existed.
        if case .string(let pattern)? = keywords["pattern"] { rules.pattern = (pattern, PatternMatcher(pattern)) }
        rules.dateTime = keywords["format"] == .string("date-time")
        rules.minimum = keywords["minimum"]?.doubleValue
        rules.maximum = keywords["maximum"]?.doubleValue
        rules.exclusiveMinimum = keywords["exclusiveMinimum"]?.doubleValue
        rules.exclusiveMaximum = keywords["exclusiveMaximum"]?.doubleValue
        rules.minItems = keywords["minItems"]?.intValue
        rules.maxItems = keywords["maxItems"]?.intValue
        rules.uniqueItems = keywords["uniqueItems"] == .bool(true)
        // Only the single-schema form of items; the tuple form is not used in Schemas/.
        if let items = keywords["items"], items.arrayValue == nil { rules.items = compile(items) }
        if case .array(let required)? = keywords["required"] {
            rules.required = required.compactMap(\.stringValue)
        }
        // Draft 07's "dependencies" (array form) and its 2019-09 name "dependentRequired": a member
        // that is present requires the others (audit.append's spoolId and spoolSeq go together).
        for keyword in ["dependencies", "dependentRequired"] {
            for (name, needs) in (keywords[keyword]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard case .array(let others) = needs else { continue }
                rules.together.append((name, others.compactMap(\.stringValue)))
            }
        }
        for (name, schema) in keywords["properties"]?.objectValue ?? [:] {
            rules.properties[name] = compile(schema)
        }
        for (pattern, schema) in (keywords["patternProperties"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            rules.patternProperties.append((PatternMatcher(pattern), compile(schema)))
        }
        rules.minProperties = keywords["minProperties"]?.intValue
        rules.maxProperties = keywords["maxProperties"]?.intValue
        rules.additional = keywords["additionalProperties"].map { compile($0) }
        rules.propertyNames = keywords["propertyNames"].map { compile($0) }
        if case .array(let all)? = keywords["allOf"] { rules.allOf = all.map { compile($0) } }
        if case .array(let any)? = keywords["anyOf"] { rules.anyOf = any.map { compile($0) } }
        if case .array(let one)? = keywords["oneOf"] { rules.oneOf = one.map { compile($0) } }
        rules.not = keywords["not"].map { compile($0) }
        return rules
    }

    static func resolve(_ reference: String, in root: JSONValue) -> JSONValue? {
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
}

/// A schema pattern: the test without the regex engine where ``SimplePattern`` gives the
/// identical verdict, else the regular expression, compiled on first need (compiling them all
/// when a daemon starts, ICU's set-up included, delayed its first answer by several ms).
struct PatternMatcher: Sendable {
    let pattern: String
    let simple: SimplePattern?

    init(_ pattern: String) {
        self.pattern = pattern
        simple = SimplePattern(pattern)
    }

    /// nil when the regex engine cannot compile the pattern: as "pattern" it then checks
    /// nothing, and as a patternProperties key it matches no name.
    func matches(_ string: String) -> Bool? {
        if let verdict = simple?.matches(string) { return verdict }
        guard let regex = RegexCache.shared.regex(pattern) else { return nil }
        return regex.firstMatch(in: string, range: NSRange(string.startIndex..., in: string)) != nil
    }
}
