import Foundation

/// A request id as JSON-RPC 2.0 allows it: string, number or null.
public enum RPCRequestID: Sendable, Hashable, Codable {
    case int(Int64)
    case string(String)
    case null

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    var json: JSONValue {
        switch self {
        case .int(let value): return .int(value)
        case .string(let value): return .string(value)
        case .null: return .null
        }
    }
}

/// One element of what a line carried, after the structural checks of the specification.
enum IncomingCall: Sendable {
    /// A valid call; `id == nil` marks a notification, which gets no reply.
    case call(method: String, params: JSONValue?, id: RPCRequestID?)
    /// Not a valid Request object: answered with -32600 and the id when one could be read.
    case invalid(RPCError, id: RPCRequestID)

    static func parse(_ value: JSONValue) -> IncomingCall {
        guard case .object(let object) = value else {
            return .invalid(.invalidRequest("a request must be a JSON object"), id: .null)
        }
        let id: RPCRequestID?
        switch object["id"] {
        case nil: id = nil
        case .null?: id = .null
        case .string(let value)?: id = .string(value)
        case .int(let value)?: id = .int(value)
        case .double(let value)? where value.rounded() == value && abs(value) < 9.0e15: id = .int(Int64(value))
        case .some:
            return .invalid(.invalidRequest("'id' must be a string, an integer or null"), id: .null)
        }
        guard object["jsonrpc"] == .string("2.0") else {
            return .invalid(.invalidRequest("'jsonrpc' must be exactly \"2.0\""), id: id ?? .null)
        }
        guard case .string(let method)? = object["method"] else {
            return .invalid(.invalidRequest("'method' must be a string"), id: id ?? .null)
        }
        let params = object["params"]
        switch params {
        case nil, .array?, .object?: break
        default: return .invalid(.invalidRequest("'params' must be an object or an array"), id: id ?? .null)
        }
        return .call(method: method, params: params, id: id)
    }
}

/// Builds response lines without a second JSON round trip of the result.
enum RPCResponseEncoder {
    static func success(id: RPCRequestID, result: Data) -> Data {
        envelope(member: #"{"jsonrpc":"2.0","result":"#, value: result, id: id)
    }

    static func failure(id: RPCRequestID, error: RPCError) -> Data {
        let encoded = (try? JSONCoding.encode(error)) ?? Data(#"{"code":-32603,"message":"Internal error"}"#.utf8)
        return envelope(member: #"{"jsonrpc":"2.0","error":"#, value: encoded, id: id)
    }

    /// One buffer sized up front: appending piece by piece to Data cost more than the encoding.
    private static func envelope(member: StaticString, value: Data, id: RPCRequestID) -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(member.utf8CodeUnitCount + value.count + 32)
        out.append(contentsOf: UnsafeBufferPointer(start: member.utf8Start, count: member.utf8CodeUnitCount))
        out.append(contentsOf: value)
        out.append(contentsOf: #","id":"#.utf8)
        switch id {
        case .null: out.append(contentsOf: "null".utf8)
        case .int(let value): out.append(contentsOf: String(value).utf8)
        case .string(let value): JSONStringWriter.append(value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return Data(out)
    }
}
