import CCurl
import Foundation
import NIOConcurrencyHelpers
import NIOPosix

/// An HTTP client over libcurl: TLS verification always on, connect and total timeouts, a
/// response size limit, and connection reuse (each easy handle keeps its connection cache and
/// handles are pooled). Blocking transfers run on a small thread pool, never on the
/// cooperative executor.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        public var connectTimeout: Duration = .seconds(5)
        public var totalTimeout: Duration = .seconds(30)
        public var maxResponseBytes: Int = 8 << 20
        public var userAgent: String = "Leadline/0.1"
        public var threads: Int = 4
        public init() {}
    }

    public let configuration: Configuration
    private let threadPool: NIOThreadPool
    private let handles = NIOLockedValueBox<[EasyHandle]>([])

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        threadPool = NIOThreadPool(numberOfThreads: configuration.threads)
        threadPool.start()
    }

    deinit {
        threadPool.shutdownGracefully { _ in }
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        // libcurl is opened and initialized on the first transfer, not when the daemon starts
        // (see CCurl/shim.h): ingest and router answer their first call ~10 ms sooner.
        if let problem = leadline_curl_load() {
            throw HTTPClientError.other(String(cString: problem))
        }
        let handle = takeHandle()
        defer { returnHandle(handle) }
        let configuration = self.configuration
        return try await threadPool.runIfActive {
            try handle.perform(request, configuration: configuration)
        }
    }

    private func takeHandle() -> EasyHandle {
        handles.withLockedValue { $0.popLast() } ?? EasyHandle()
    }

    /// Keeps as many idle handles as transfers can run at once: a handle dropped here takes its
    /// live connection with it, and under load every transfer past the cap paid for a new
    /// handle, a new TCP connection (and TLS handshake) and a close.
    private func returnHandle(_ handle: EasyHandle) {
        let keep = max(16, configuration.threads)
        handles.withLockedValue { pool in
            if pool.count < keep { pool.append(handle) }
        }
    }
}

/// One curl easy handle. Used by one transfer at a time (the pool guarantees it).
final class EasyHandle: @unchecked Sendable {
    private let curl: UnsafeMutableRawPointer

    init() {
        curl = leadline_curl_easy_init()
    }

    deinit {
        leadline_curl_easy_cleanup(curl)
    }

    func perform(_ request: HTTPRequest, configuration: HTTPClient.Configuration) throws -> HTTPResponse {
        // Reset keeps live connections and the DNS cache: that is the reuse we want.
        leadline_curl_easy_reset(curl)
        let sink = ResponseSink(limit: configuration.maxResponseBytes)
        let sinkPointer = Unmanaged.passRetained(sink).toOpaque()
        defer { Unmanaged<ResponseSink>.fromOpaque(sinkPointer).release() }

        guard request.url.hasPrefix("http://") || request.url.hasPrefix("https://") else {
            throw HTTPClientError.invalidRequest("only http and https URLs are allowed")
        }
        leadline_curl_setopt_string(curl, CURLOPT_URL, request.url)
        leadline_curl_setopt_string(curl, CURLOPT_PROTOCOLS_STR, "http,https")
        leadline_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        leadline_curl_setopt_long(curl, CURLOPT_SSL_VERIFYPEER, 1)
        leadline_curl_setopt_long(curl, CURLOPT_SSL_VERIFYHOST, 2)
        leadline_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0)
        if !request.idempotent {
            leadline_curl_setopt_long(curl, CURLOPT_FRESH_CONNECT, 1)
            leadline_curl_setopt_long(curl, CURLOPT_FORBID_REUSE, 1)
        }
        leadline_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.milliseconds)
        leadline_curl_setopt_long(
            curl, CURLOPT_TIMEOUT_MS, (request.timeout ?? configuration.totalTimeout).milliseconds)
        leadline_curl_setopt_string(curl, CURLOPT_USERAGENT, configuration.userAgent)
        leadline_curl_setopt_string(curl, CURLOPT_ACCEPT_ENCODING, "")
        leadline_curl_setopt_long(curl, CURLOPT_MAXFILESIZE, configuration.maxResponseBytes)

        switch request.method {
        case "GET": leadline_curl_setopt_long(curl, CURLOPT_HTTPGET, 1)
        case "HEAD": leadline_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
        default: leadline_curl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, request.method)
        }
        let body = request.body ?? (request.method == "GET" || request.method == "HEAD" ? nil : Data())
        let bodyCopy: UnsafeMutableRawPointer? = body.map { data in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 1)
            data.withUnsafeBytes {
                if let base = $0.baseAddress { buffer.copyMemory(from: base, byteCount: data.count) }
            }
            return buffer
        }
        defer { bodyCopy?.deallocate() }
        if let body, let bodyCopy {
            leadline_curl_setopt_off_t(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            leadline_curl_setopt_pointer(curl, CURLOPT_POSTFIELDS, bodyCopy)
        }

        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in request.headers {
            headerList = leadline_curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        // curl adds "Expect: 100-continue" to large bodies; the vendors do not need the round trip.
        headerList = leadline_curl_slist_append(headerList, "Expect:")
        defer { leadline_curl_slist_free_all(headerList) }
        leadline_curl_setopt_slist(curl, CURLOPT_HTTPHEADER, headerList)

        leadline_curl_setopt_write_function(curl, CURLOPT_WRITEFUNCTION, writeBody)
        leadline_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, sinkPointer)
        leadline_curl_setopt_write_function(curl, CURLOPT_HEADERFUNCTION, writeHeader)
        leadline_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, sinkPointer)

        let started = ContinuousClock.now
        let code = leadline_curl_easy_perform(curl)
        let elapsed = ContinuousClock.now - started
        guard code == CURLE_OK else {
            if sink.overflowed || code == CURLE_FILESIZE_EXCEEDED {
                throw HTTPClientError.responseTooLarge(limit: configuration.maxResponseBytes)
            }
            throw Self.classify(code)
        }
        var status = 0
        leadline_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body, elapsed: elapsed)
    }

    static func classify(_ code: CURLcode) -> HTTPClientError {
        let text = String(cString: leadline_curl_easy_strerror(code))
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return .timedOut(text)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .connectionFailed(text)
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE: return .connectionReset(text)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
            return .tls(text)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: return .invalidRequest(text)
        default: return .other(text)
        }
    }
}

/// Collects one response; the C callbacks reach it through an opaque pointer.
final class ResponseSink {
    let limit: Int
    var body = Data()
    var headers: [(name: String, value: String)] = []
    var overflowed = false

    init(limit: Int) {
        self.limit = limit
    }
}

private func writeBody(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
)
    -> Int
{
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    if sink.body.count + length > sink.limit {
        sink.overflowed = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: length) { sink.body.append($0, count: length) }
    return length
}

private func writeHeader(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    // One header line, parsed as bytes: this runs for every header of every response, and
    // Foundation's trimming and lowercasing cost more than the transfer around them.
    let line = UnsafeRawBufferPointer(start: data, count: length).bindMemory(to: UInt8.self)
    if line.starts(with: "HTTP/".utf8) {
        // A new response (after a 100 Continue or a redirect): its headers replace the last ones.
        sink.headers = []
    } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var nameEnd = colon
        var nameStart = 0
        while nameStart < nameEnd && isSpace(line[nameStart]) { nameStart += 1 }
        while nameEnd > nameStart && isSpace(line[nameEnd - 1]) { nameEnd -= 1 }
        var valueStart = colon + 1
        var valueEnd = length
        while valueStart < valueEnd && isSpace(line[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart && isSpace(line[valueEnd - 1]) { valueEnd -= 1 }
        // Header names are ASCII tokens: lowercased byte by byte.
        let name = String(
            decoding: line[nameStart..<nameEnd].lazy.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 },
            as: UTF8.self)
        let value = String(decoding: UnsafeBufferPointer(rebasing: line[valueStart..<valueEnd]), as: UTF8.self)
        sink.headers.append((name, value))
    }
    return length
}

extension Duration {
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
