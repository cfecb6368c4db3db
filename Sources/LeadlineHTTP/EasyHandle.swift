import CCurl
import Foundation

/// One curl easy handle. Used by one transfer at a time (the pool guarantees it).
final class EasyHandle: @unchecked Sendable {
    let api: UnsafePointer<leadline_curl_api>
    let curl: UnsafeMutableRawPointer

    /// What a transfer's options point at, kept alive until the transfer is over.
    struct Prepared: @unchecked Sendable {
        let sink: ResponseSink
        let sinkPointer: UnsafeMutableRawPointer
        let bodyCopy: UnsafeMutableRawPointer?
        let headerList: UnsafeMutablePointer<curl_slist>?
    }

    init(api: UnsafePointer<leadline_curl_api>) {
        self.api = api
        curl = leadline_curl_easy_init(api)
    }

    deinit {
        leadline_curl_easy_cleanup(api, curl)
    }

    /// Sets every option of `request` on the handle (reset first: it may have served another).
    func prepare(_ request: HTTPRequest, configuration: HTTPClient.Configuration) throws -> Prepared {
        guard request.url.hasPrefix("http://") || request.url.hasPrefix("https://") else {
            throw HTTPClientError.invalidRequest("only http and https URLs are allowed")
        }
        // Reset keeps live connections and the DNS cache: that is the reuse we want.
        leadline_curl_easy_reset(api, curl)
        let sink = ResponseSink(limit: configuration.maxResponseBytes)
        let sinkPointer = Unmanaged.passRetained(sink).toOpaque()

        leadline_curl_setopt_string(api, curl, CURLOPT_URL, request.url)
        leadline_curl_setopt_string(api, curl, CURLOPT_PROTOCOLS_STR, "http,https")
        leadline_curl_setopt_long(api, curl, CURLOPT_NOSIGNAL, 1)
        leadline_curl_setopt_long(api, curl, CURLOPT_SSL_VERIFYPEER, 1)
        leadline_curl_setopt_long(api, curl, CURLOPT_SSL_VERIFYHOST, 2)
        leadline_curl_setopt_long(api, curl, CURLOPT_FOLLOWLOCATION, 0)
        if !request.idempotent {
            leadline_curl_setopt_long(api, curl, CURLOPT_FRESH_CONNECT, 1)
            leadline_curl_setopt_long(api, curl, CURLOPT_FORBID_REUSE, 1)
        }
        leadline_curl_setopt_long(api, curl, CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.milliseconds)
        leadline_curl_setopt_long(
            api, curl, CURLOPT_TIMEOUT_MS, (request.timeout ?? configuration.totalTimeout).milliseconds)
        leadline_curl_setopt_string(api, curl, CURLOPT_USERAGENT, configuration.userAgent)
        leadline_curl_setopt_string(api, curl, CURLOPT_ACCEPT_ENCODING, "")
        leadline_curl_setopt_long(api, curl, CURLOPT_MAXFILESIZE, configuration.maxResponseBytes)

        switch request.method {
        case "GET": leadline_curl_setopt_long(api, curl, CURLOPT_HTTPGET, 1)
        case "HEAD": leadline_curl_setopt_long(api, curl, CURLOPT_NOBODY, 1)
        default: leadline_curl_setopt_string(api, curl, CURLOPT_CUSTOMREQUEST, request.method)
        }
        let body = request.body ?? (request.method == "GET" || request.method == "HEAD" ? nil : Data())
        let bodyCopy: UnsafeMutableRawPointer? = body.map { data in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 1)
            data.withUnsafeBytes {
                if let base = $0.baseAddress { buffer.copyMemory(from: base, byteCount: data.count) }
            }
            return buffer
        }
        if let body, let bodyCopy {
            leadline_curl_setopt_off_t(api, curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            leadline_curl_setopt_pointer(api, curl, CURLOPT_POSTFIELDS, bodyCopy)
        }

        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in request.headers {
            headerList = leadline_curl_slist_append(api, headerList, "\(header.name): \(header.value)")
        }
        // curl adds "Expect: 100-continue" to large bodies; the vendors do not need the round trip.
        headerList = leadline_curl_slist_append(api, headerList, "Expect:")
        leadline_curl_setopt_slist(api, curl, CURLOPT_HTTPHEADER, headerList)

        leadline_curl_setopt_write_function(api, curl, CURLOPT_WRITEFUNCTION, writeBody)
        leadline_curl_setopt_pointer(api, curl, CURLOPT_WRITEDATA, sinkPointer)
        leadline_curl_setopt_write_function(api, curl, CURLOPT_HEADERFUNCTION, writeHeader)
        leadline_curl_setopt_pointer(api, curl, CURLOPT_HEADERDATA, sinkPointer)
        return Prepared(sink: sink, sinkPointer: sinkPointer, bodyCopy: bodyCopy, headerList: headerList)
    }

    /// The outcome of the transfer `prepared` was for (nil: ended by the client's shutdown);
    /// frees what it held.
    func finish(_ code: CURLcode?, _ prepared: Prepared, elapsed: Duration) -> Result<HTTPResponse, Error> {
        defer {
            Unmanaged<ResponseSink>.fromOpaque(prepared.sinkPointer).release()
            prepared.bodyCopy?.deallocate()
            leadline_curl_slist_free_all(api, prepared.headerList)
        }
        let sink = prepared.sink
        guard let code else { return .failure(HTTPClientError.other("the HTTP client is shut down")) }
        guard code == CURLE_OK else {
            if sink.overflowed || code == CURLE_FILESIZE_EXCEEDED {
                return .failure(HTTPClientError.responseTooLarge(limit: sink.limit))
            }
            return .failure(classify(code))
        }
        var status = 0
        leadline_curl_getinfo_long(api, curl, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body, elapsed: elapsed))
    }

    func classify(_ code: CURLcode) -> HTTPClientError {
        let text = String(cString: leadline_curl_easy_strerror(api, code))
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
