import Foundation

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: Data?
    /// Overrides the client's total timeout for this request.
    public var timeout: Duration?
    /// Whether sending the request twice is harmless (GET, upserts, requests carrying an
    /// idempotency key). libcurl silently re-sends a request whose reused connection died before
    /// any answer, even a POST the server already applied; a request that is not idempotent
    /// therefore always gets a fresh connection, where libcurl never re-sends.
    public var idempotent: Bool

    public init(
        method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: Data? = nil,
        timeout: Duration? = nil, idempotent: Bool? = nil
    ) {
        self.idempotent = idempotent ?? ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"].contains(method)
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lower-cased, in the order received.
    public var headers: [(name: String, value: String)]
    public var body: Data
    public var elapsed: Duration

    public init(status: Int, headers: [(name: String, value: String)], body: Data, elapsed: Duration) {
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed
    }

    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.last { $0.name == wanted }?.value
    }
}

/// Transport failures, classified the way retry logic needs them.
public enum HTTPClientError: Error, Sendable, CustomStringConvertible {
    case timedOut(String)
    case connectionFailed(String)
    case connectionReset(String)
    case responseTooLarge(limit: Int)
    case tls(String)
    case invalidRequest(String)
    case other(String)

    public var description: String {
        switch self {
        case .timedOut(let detail): return "timed out: \(detail)"
        case .connectionFailed(let detail): return "connection failed: \(detail)"
        case .connectionReset(let detail): return "connection reset: \(detail)"
        case .responseTooLarge(let limit): return "response larger than \(limit) bytes"
        case .tls(let detail): return "TLS failure: \(detail)"
        case .invalidRequest(let detail): return "invalid request: \(detail)"
        case .other(let detail): return detail
        }
    }

    /// Whether trying again later may succeed.
    public var isTransient: Bool {
        switch self {
        case .timedOut, .connectionFailed, .connectionReset, .other: return true
        case .responseTooLarge, .tls, .invalidRequest: return false
        }
    }
}

/// Where a vendor's API lives. Production uses the vendor's public base; tests and proxies
/// change the base URL in config, never the code.
public struct HTTPTarget: Sendable, Hashable {
    public var baseURL: String

    public init(baseURL: String) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    }

    public func url(_ path: String, query: [(String, String)] = []) -> String {
        var url = baseURL + (path.hasPrefix("/") ? path : "/" + path)
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        return url
    }

    /// Percent-encodes everything but RFC 3986's unreserved bytes (ASCII letters, digits and
    /// "-._~"), byte by byte over UTF-8. Foundation's CharacterSet.alphanumerics would leave
    /// non-ASCII letters raw, and its CFString round trip was a tenth of a Graph fetch's CPU.
    public static func escape(_ value: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
