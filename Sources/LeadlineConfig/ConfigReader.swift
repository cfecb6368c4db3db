import LeadlineRPC

/// A config problem, always naming the file, the key and what is wrong with it.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(file: String, key: String? = nil, _ reason: String) {
        description = key.map { "\(file): key '\($0)': \(reason)" } ?? "\(file): \(reason)"
    }
}

/// Reads one TOML table with typed accessors that record which keys were read, so that any
/// key nobody read (a typo, a key from a newer version) is reported instead of ignored.
final class ConfigReader {
    private let file: String
    private let prefix: String
    private let table: [String: JSONValue]
    private var consumed: Set<String> = []
    private var children: [ConfigReader] = []

    init(file: String, prefix: String = "", table: [String: JSONValue]) {
        self.file = file
        self.prefix = prefix
        self.table = table
    }

    private func key(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    private func fail(_ name: String, _ reason: String) -> ConfigError {
        ConfigError(file: file, key: key(name), reason)
    }

    func section(_ name: String) throws -> ConfigReader {
        consumed.insert(name)
        let child: ConfigReader
        switch table[name] {
        case nil: child = ConfigReader(file: file, prefix: key(name), table: [:])
        case .object(let object)?: child = ConfigReader(file: file, prefix: key(name), table: object)
        case let other?: throw fail(name, "expected a table, found \(other.typeName)")
        }
        children.append(child)
        return child
    }

    func string(_ name: String, default value: String, check: ((String) -> String?)? = nil) throws -> String {
        consumed.insert(name)
        guard let raw = table[name] else { return value }
        guard case .string(let string) = raw else { throw fail(name, "expected a string, found \(raw.typeName)") }
        if let check, let problem = check(string) { throw fail(name, problem) }
        return string
    }

    func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        consumed.insert(name)
        guard let raw = table[name] else { return value }
        guard case .int(let number) = raw else { throw fail(name, "expected an integer, found \(raw.typeName)") }
        guard range.contains(Int(number)) else {
            throw fail(name, "\(number) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(number)
    }

    func strings(_ name: String, default value: [String]) throws -> [String] {
        consumed.insert(name)
        guard let raw = table[name] else { return value }
        guard case .array(let items) = raw else {
            throw fail(name, "expected an array of strings, found \(raw.typeName)")
        }
        return try items.enumerated().map { index, item in
            guard case .string(let string) = item else {
                throw fail("\(name)[\(index)]", "expected a string, found \(item.typeName)")
            }
            return string
        }
    }

    /// Throws on the first key in this table or any section below it that nothing read.
    func rejectUnknownKeys() throws {
        for name in table.keys.sorted() where !consumed.contains(name) {
            throw fail(name, "unknown key (check the spelling; see Schemas/config.schema.json)")
        }
        for child in children { try child.rejectUnknownKeys() }
    }
}
