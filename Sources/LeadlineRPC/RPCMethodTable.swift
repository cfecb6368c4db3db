import Foundation
import Logging

/// What a handler sees of its call besides the params.
public struct RPCContext: Sendable {
    public var caller: Caller
    public var method: String
    public var logger: Logger

    public init(caller: Caller, method: String, logger: Logger) {
        self.caller = caller
        self.method = method
        self.logger = logger
    }
}

/// Checks params (and, in tests, results) against the method's schema before the handler runs,
/// so every daemon rejects the same bad input the same way, naming the field.
public protocol RPCSchemaChecking: Sendable {
    func hasMethod(_ method: String) -> Bool
    func checkParams(method: String, params: JSONValue?) -> RPCError?
    func checkResult(method: String, result: JSONValue) -> String?
}

/// The methods a daemon serves. Filled once at start, then handed to an `RPCDispatcher`.
public struct RPCMethodTable: Sendable {
    public typealias RawHandler = @Sendable (JSONValue?, RPCContext) async throws -> Data

    public struct Entry: Sendable {
        public var authorization: Authorization
        public var handler: RawHandler
    }

    public private(set) var entries: [String: Entry] = [:]

    public init() {}

    public var methodNames: [String] { entries.keys.sorted() }

    /// Registers a typed method. Params arrive checked against the schema, then decoded.
    public mutating func register<M: RPCMethod>(
        _ method: M.Type, _ authorization: Authorization,
        _ handler: @escaping @Sendable (M.Params, RPCContext) async throws -> M.Result
    ) {
        entries[M.name] = Entry(authorization: authorization) { raw, context in
            let params = try Self.decodeParams(M.Params.self, from: raw)
            let result = try await handler(params, context)
            return try JSONCoding.encode(result)
        }
    }

    /// Registers a typed method whose result writes its own JSON.
    public mutating func register<M: RPCMethod>(
        _ method: M.Type, _ authorization: Authorization,
        _ handler: @escaping @Sendable (M.Params, RPCContext) async throws -> M.Result
    ) where M.Result: JSONValueRepresentable {
        entries[M.name] = Entry(authorization: authorization) { raw, context in
            let params = try Self.decodeParams(M.Params.self, from: raw)
            return Data(JSONValueWriter.bytes(try await handler(params, context).jsonValue))
        }
    }

    /// Registers an untyped method, for the protocol's own conformance cases and pass-through calls.
    public mutating func registerRaw(
        _ name: String, _ authorization: Authorization,
        _ handler: @escaping @Sendable (JSONValue?, RPCContext) async throws -> JSONValue
    ) {
        entries[name] = Entry(authorization: authorization) { raw, context in
            try JSONCoding.encode(try await handler(raw, context))
        }
    }

    static func decodeParams<P: Decodable>(_ type: P.Type, from raw: JSONValue?) throws -> P {
        let value: JSONValue
        switch raw {
        case nil: value = .object([:])
        case .object?: value = raw!
        case .some: throw RPCError.invalidParams("params must be an object of named parameters")
        }
        do {
            return try JSONCoding.convert(value, to: P.self)
        } catch let error as DecodingError {
            throw RPCError.invalidParams(DecodingErrorDescription.describe(error))
        }
    }
}

/// Turns Codable's errors into a sentence naming the param, without quoting any value.
public enum DecodingErrorDescription {
    public static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [CodingKey], _ last: CodingKey? = nil) -> String {
            let keys = codingPath + (last.map { [$0] } ?? [])
            if keys.isEmpty { return "params" }
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing required param '\(path(context.codingPath, key))'"
        case .typeMismatch(let type, let context):
            return "param '\(path(context.codingPath))' has the wrong type (expected \(typeName(type)))"
        case .valueNotFound(let type, let context):
            return "param '\(path(context.codingPath))' must not be null (expected \(typeName(type)))"
        case .dataCorrupted(let context):
            return "param '\(path(context.codingPath))' is not valid: \(context.debugDescription)"
        @unknown default:
            return "params could not be decoded"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "string"
        case is Bool.Type: return "boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt32.Type: return "integer"
        case is Double.Type, is Float.Type: return "number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") || name.hasPrefix("[") { return "array" }
            if name.hasPrefix("Dictionary") { return "object" }
            return "object"
        }
    }
}
