/// A JSON-RPC error as it goes on the wire. Every error Leadline sends carries `data.name`, a
/// stable machine name, and `data.detail` for humans; neither ever holds a secret or personal data.
public struct RPCError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public struct Details: Sendable, Hashable, Codable {
        public var name: String
        public var detail: String
    }

    public var code: Int
    public var message: String
    public var data: Details?

    public init(code: Int, message: String, name: String, detail: String) {
        self.code = code
        self.message = message
        self.data = Details(name: name, detail: detail)
    }

    public var name: String { data?.name ?? "Unknown" }
    public var detail: String { data?.detail ?? message }
    public var description: String { "\(name) (\(code)): \(detail)" }

    // JSON-RPC 2.0 specification codes.
    public static func parseError(_ detail: String) -> RPCError {
        RPCError(code: -32700, message: "Parse error", name: "ParseError", detail: detail)
    }
    public static func invalidRequest(_ detail: String) -> RPCError {
        RPCError(code: -32600, message: "Invalid Request", name: "InvalidRequest", detail: detail)
    }
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(
            code: -32601, message: "Method not found", name: "MethodNotFound", detail: "no method named '\(method)'")
    }
    public static func invalidParams(_ detail: String) -> RPCError {
        RPCError(code: -32602, message: "Invalid params", name: "InvalidParams", detail: detail)
    }
    public static func internalError(_ detail: String = "internal error; see the daemon's journal") -> RPCError {
        RPCError(code: -32603, message: "Internal error", name: "InternalError", detail: detail)
    }

    // Leadline's domain codes, -32000..-32099 (Schemas/*.openrpc.json components.errors).
    public static func notFound(_ detail: String) -> RPCError { domain(-32001, "NotFound", detail) }
    public static func permissionDenied(_ detail: String) -> RPCError { domain(-32002, "PermissionDenied", detail) }
    public static func conflict(_ detail: String) -> RPCError { domain(-32003, "Conflict", detail) }
    public static func unavailable(_ detail: String) -> RPCError { domain(-32004, "Unavailable", detail) }
    public static func rateLimited(_ detail: String) -> RPCError { domain(-32005, "RateLimited", detail) }
    public static func tooLarge(_ detail: String) -> RPCError { domain(-32006, "TooLarge", detail) }
    public static func timeout(_ detail: String) -> RPCError { domain(-32007, "Timeout", detail) }
    public static func tooManyConnections(_ detail: String) -> RPCError { domain(-32008, "TooManyConnections", detail) }
    public static func validationFailed(_ detail: String) -> RPCError { domain(-32009, "ValidationFailed", detail) }
    public static func storageFailure(_ detail: String) -> RPCError { domain(-32010, "StorageFailure", detail) }
    public static func shuttingDown(_ detail: String) -> RPCError { domain(-32011, "ShuttingDown", detail) }
    public static func expired(_ detail: String) -> RPCError { domain(-32012, "Expired", detail) }

    private static func domain(_ code: Int, _ name: String, _ detail: String) -> RPCError {
        RPCError(code: code, message: name, name: name, detail: detail)
    }
}
