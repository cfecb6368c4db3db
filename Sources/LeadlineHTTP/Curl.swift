import CCurl

/// libcurl's entry points, opened on the first transfer (see CCurl/shim.h) and kept for the life
/// of the process. Every call into libcurl passes this table.
enum Curl {
    private struct Table: @unchecked Sendable {
        let pointer: UnsafePointer<leadline_curl_api>
    }

    // A static let: opened once, the first time a transfer asks, whichever thread that is.
    private static let opened: Result<Table, HTTPClientError> = {
        let table = UnsafeMutablePointer<leadline_curl_api>.allocate(capacity: 1)
        table.initialize(to: leadline_curl_api())
        if let problem = leadline_curl_open(table) {
            return .failure(.other(String(cString: problem)))
        }
        return .success(Table(pointer: UnsafePointer(table)))
    }()

    /// The table, or why libcurl cannot be used.
    static func api() throws(HTTPClientError) -> UnsafePointer<leadline_curl_api> {
        try opened.get().pointer
    }
}
