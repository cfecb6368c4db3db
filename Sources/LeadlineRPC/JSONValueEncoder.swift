import Foundation

/// Encodes a typed value straight into a JSONValue, which JSONValueWriter then writes. Every
/// reply went through Foundation's JSONEncoder: its dynamic casts and boxes were a sixth of a
/// daemon's user CPU per ping, and `JSONCoding.value(of:)` paid an encode and a parse on top.
/// The JSON is what JSONEncoder wrote with the wire options (dates as ISO 8601 seconds, Data as
/// base64, URLs as text, nil optionals left out); only object keys come in byte order, which
/// JSONValueWriter keeps for every value.
struct JSONValueEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let root = Node()
        try root.store(value, codingPath: [])
        return root.value
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.becomeObject()
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.becomeArray()
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(node: node, codingPath: codingPath)
    }

    /// One value being built. Containers hold their node by reference, as Codable requires: a
    /// nested container or a super encoder writes into its parent after being handed out.
    final class Node {
        private var scalar: JSONValue?
        private var members: [String: Node]?
        private var elements: [Node]?

        /// What was encoded; a value that encoded nothing is an empty object, as with JSONEncoder.
        var value: JSONValue {
            if let scalar { return scalar }
            if let elements { return .array(elements.map(\.value)) }
            return .object((members ?? [:]).mapValues(\.value))
        }

        func set(_ value: JSONValue) { scalar = value }
        func becomeObject() { if members == nil { members = [:] } }
        func becomeArray() { if elements == nil { elements = [] } }

        func member(_ key: String) -> Node {
            let child = Node()
            members![key] = child
            return child
        }

        func appendElement() -> Node {
            let child = Node()
            elements!.append(child)
            return child
        }

        var count: Int { elements?.count ?? members?.count ?? 0 }

        /// The types JSONEncoder writes its own way, then everything else through Codable. Told
        /// apart by their metatypes: a failed `as?` cast per case cost more than the encoding.
        func store<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
            if T.self == JSONValue.self {
                scalar = (value as! JSONValue)
            } else if T.self == String.self {
                scalar = .string(value as! String)
            } else if T.self == Int.self {
                scalar = .int(Int64(value as! Int))
            } else if T.self == Bool.self {
                scalar = .bool(value as! Bool)
            } else if T.self == Int64.self {
                scalar = .int(value as! Int64)
            } else if T.self == Double.self {
                scalar = try Primitive.double(value as! Double, codingPath)
            } else if T.self == Date.self {
                scalar = .string(UTCTimestamp.seconds(value as! Date))  // as the .iso8601 strategy writes
            } else if T.self == Data.self {
                scalar = .string((value as! Data).base64EncodedString())
            } else if T.self == URL.self {
                scalar = .string((value as! URL).absoluteString)
            } else {
                try value.encode(to: JSONValueEncoder(node: self, codingPath: codingPath))
            }
        }
    }
}

/// Scalars as JSONEncoder spells them.
private enum Primitive {
    static func double(_ number: Double, _ path: [any CodingKey]) throws -> JSONValue {
        guard number.isFinite else {
            throw EncodingError.invalidValue(
                number, .init(codingPath: path, debugDescription: "\(number) is not valid JSON"))
        }
        // A whole number is written without a fraction ("3"), which reads back as an integer:
        // so it is one here too, and a value is the same whether encoded or parsed.
        if number.rounded() == number, abs(number) < 1e15 { return .int(Int64(number)) }
        return .double(number)
    }

    static func integer<T: BinaryInteger>(_ number: T) -> JSONValue {
        if let exact = Int64(exactly: number) { return .int(exact) }
        return .double(Double(number))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONValueEncoder.Node
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) { node.member(key.stringValue).set(.null) }
    mutating func encode(_ value: Bool, forKey key: Key) { node.member(key.stringValue).set(.bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) { node.member(key.stringValue).set(.string(value)) }
    mutating func encode(_ value: Int, forKey key: Key) { node.member(key.stringValue).set(.int(Int64(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) { node.member(key.stringValue).set(.int(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        node.member(key.stringValue).set(try Primitive.double(value, codingPath + [key]))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws { try encode(Double(value), forKey: key) }
    mutating func encode(_ value: Int8, forKey key: Key) { node.member(key.stringValue).set(Primitive.integer(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) { node.member(key.stringValue).set(Primitive.integer(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) { node.member(key.stringValue).set(Primitive.integer(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) { node.member(key.stringValue).set(Primitive.integer(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) { node.member(key.stringValue).set(Primitive.integer(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) {
        node.member(key.stringValue).set(Primitive.integer(value))
    }
    mutating func encode(_ value: UInt32, forKey key: Key) {
        node.member(key.stringValue).set(Primitive.integer(value))
    }
    mutating func encode(_ value: UInt64, forKey key: Key) {
        node.member(key.stringValue).set(Primitive.integer(value))
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try node.member(key.stringValue).store(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        JSONValueEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
            .container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        JSONValueEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        JSONValueEncoder(node: node.member("super"), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        JSONValueEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: JSONValueEncoder.Node
    let codingPath: [any CodingKey]
    var count: Int { node.count }

    mutating func encodeNil() { node.appendElement().set(.null) }
    mutating func encode(_ value: Bool) { node.appendElement().set(.bool(value)) }
    mutating func encode(_ value: String) { node.appendElement().set(.string(value)) }
    mutating func encode(_ value: Int) { node.appendElement().set(.int(Int64(value))) }
    mutating func encode(_ value: Int64) { node.appendElement().set(.int(value)) }
    mutating func encode(_ value: Double) throws {
        let path = codingPath + [IndexKey(count)]
        node.appendElement().set(try Primitive.double(value, path))
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath + [IndexKey(count)]
        try node.appendElement().store(value, codingPath: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let path = codingPath + [IndexKey(count)]
        return JSONValueEncoder(node: node.appendElement(), codingPath: path).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = codingPath + [IndexKey(count)]
        return JSONValueEncoder(node: node.appendElement(), codingPath: path).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let path = codingPath + [IndexKey(count)]
        return JSONValueEncoder(node: node.appendElement(), codingPath: path)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let node: JSONValueEncoder.Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() { node.set(.null) }
    mutating func encode(_ value: Bool) { node.set(.bool(value)) }
    mutating func encode(_ value: String) { node.set(.string(value)) }
    mutating func encode(_ value: Int) { node.set(.int(Int64(value))) }
    mutating func encode(_ value: Int64) { node.set(.int(value)) }
    mutating func encode(_ value: Double) throws { node.set(try Primitive.double(value, codingPath)) }
    mutating func encode(_ value: Float) throws { node.set(try Primitive.double(Double(value), codingPath)) }
    mutating func encode(_ value: Int8) { node.set(Primitive.integer(value)) }
    mutating func encode(_ value: Int16) { node.set(Primitive.integer(value)) }
    mutating func encode(_ value: Int32) { node.set(Primitive.integer(value)) }
    mutating func encode(_ value: UInt) { node.set(Primitive.integer(value)) }
    mutating func encode(_ value: UInt8) { node.set(Primitive.integer(value)) }
    mutating func encode(_ value: UInt16) { node.set(Primitive.integer(value)) }
    mutating func encode(_ value: UInt32) { node.set(Primitive.integer(value)) }
    mutating func encode(_ value: UInt64) { node.set(Primitive.integer(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws { try node.store(value, codingPath: codingPath) }
}
