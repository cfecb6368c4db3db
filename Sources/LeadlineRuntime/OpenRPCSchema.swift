import LeadlineRPC
import LeadlineSchemas

/// A daemon's OpenRPC document from Schemas/, as served by `rpc.discover` and as the check
/// every request's params (and, in tests, every result) must pass.
public struct OpenRPCSchema: RPCSchemaChecking {
    public let document: JSONValue
    private let params: [String: CompiledSchema]
    private let results: [String: CompiledSchema]

    public init(service: String) throws {
        guard let text = Schemas.openRPC(service: service) else {
            throw RuntimeError("Schemas/\(service).openrpc.json was not embedded at build time")
        }
        try self.init(document: JSONCoding.parse(Array(text.utf8)))
    }

    public init(document: JSONValue) {
        self.document = document
        let validator = SchemaValidator(root: document)
        var params: [String: CompiledSchema] = [:]
        var results: [String: CompiledSchema] = [:]
        for method in document["methods"]?.arrayValue ?? [] {
            guard let name = method["name"]?.stringValue else { continue }
            var properties: [String: JSONValue] = [:]
            var required: [JSONValue] = []
            for param in method["params"]?.arrayValue ?? [] {
                guard let paramName = param["name"]?.stringValue else { continue }
                properties[paramName] = param["schema"] ?? .object([:])
                if param["required"] == .bool(true) { required.append(.string(paramName)) }
            }
            var paramsSchema: [String: JSONValue] = [
                "type": .string("object"), "properties": .object(properties), "required": .array(required),
                "additionalProperties": .bool(false),
            ]
            // Rules across params (one of email or phone, per-kind options) live beside the params.
            if let crossParams = method["x-params-schema"] { paramsSchema["allOf"] = .array([crossParams]) }
            params[name] = validator.compile(.object(paramsSchema))
            if let result = method["result"]?["schema"] { results[name] = validator.compile(result) }
        }
        self.params = params
        self.results = results
    }

    public var methodNames: [String] { params.keys.sorted() }

    public func hasMethod(_ method: String) -> Bool { params[method] != nil }

    public func checkParams(method: String, params value: JSONValue?) -> RPCError? {
        guard let schema = params[method] else { return nil }
        let object: JSONValue
        switch value {
        case nil: object = .object([:])
        case .object?: object = value!
        case .some: return .invalidParams("params must be an object of named parameters")
        }
        return schema.validate(object).map { RPCError.invalidParams($0) }
    }

    public func checkResult(method: String, result: JSONValue) -> String? {
        guard let schema = results[method] else { return nil }
        return schema.validate(result).map {
            $0.replacingOccurrences(of: "param '", with: "result '")
        }
    }
}

public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
