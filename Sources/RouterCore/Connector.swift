import Foundation
import LeadlineHTTP
import LeadlineRPC

/// What every connector gets: the HTTP client, tokens and credentials, timings, and a way to
/// save a finished step of a multi-request delivery before taking the next.
struct ConnectorContext: Sendable {
    let http: HTTPClient
    let tokens: OAuthTokens
    let credentials: CredentialSource
    let timing: DeliveryTiming
    let saveProgress: @Sendable ([String: String]) async throws -> Void
}

/// A successful delivery: the CRM's record id (none for webhooks) and the final HTTP status.
struct Delivered: Sendable {
    var recordId: String?
    var httpStatus: Int
}

/// Why an attempt failed, classified the way the retry policy needs it.
struct DeliveryFailure: Error, Sendable {
    enum Kind: Sendable, Equatable {
        /// The CRM rejected the record (400, 422, ...): dead at once, replayable after a fix.
        case permanent
        /// 5xx, timeouts, resets, an unreachable vault: back off and retry.
        case transient
        /// 429 and vendor limits: retry after the delay the vendor asked for (nil: back off).
        case rateLimited(after: Double?)
    }
    var kind: Kind
    var httpStatus: Int?
    var message: String

    init(_ kind: Kind, status: Int?, _ message: String) {
        self.kind = kind
        self.httpStatus = status
        self.message = DeliveryFailure.redact(message)
    }

    /// Vendor messages may quote the submitted values: addresses never reach the sync log.
    static func redact(_ text: String) -> String {
        text.replacingOccurrences(
            of: #"[^\s@"'<>\[\]{}(),;:]+@[^\s@"'<>\[\]{}(),;:]+"#, with: "<email>", options: .regularExpression)
    }
}

protocol Connector: Sendable {
    func deliver(_ job: DeliveryJob, _ context: ConnectorContext) async throws -> Delivered
    /// One authenticated, read-only request; returns the response (or throws a transport error).
    func check(_ destination: Destination, _ context: ConnectorContext) async throws -> HTTPResponse
}

enum Connectors {
    static func connector(for kind: DestinationKind) -> any Connector {
        switch kind {
        case .hubspot: return HubSpotConnector()
        case .salesforce: return SalesforceConnector()
        case .pipedrive: return PipedriveConnector()
        case .webhook: return WebhookConnector()
        }
    }
}

/// Shared reading of vendor answers.
enum VendorResponse {
    /// Seconds the vendor asks us to wait: Retry-After (seconds or HTTP date), HubSpot's and
    /// Pipedrive's rate headers when the window is used up.
    static func requestedDelay(_ response: HTTPResponse) -> Double? {
        if let text = response.header("retry-after") {
            if let seconds = Double(text.trimmingCharacters(in: .whitespaces)) { return max(0, seconds) }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            if let date = formatter.date(from: text) { return max(0, date.timeIntervalSinceNow) }
        }
        if response.header("x-hubspot-ratelimit-remaining") == "0",
            let interval = response.header("x-hubspot-ratelimit-interval-milliseconds").flatMap(Double.init)
        {
            return interval / 1000
        }
        if response.header("x-ratelimit-remaining") == "0",
            let reset = response.header("x-ratelimit-reset").flatMap(Double.init)
        {
            return reset
        }
        return nil
    }

    /// The vendor's own words: HubSpot `message`, Salesforce `[{message, errorCode}]`, Pipedrive `error`.
    static func message(_ response: HTTPResponse) -> String {
        let parsed = try? JSONCoding.parse(response.body)
        var text: String?
        if let first = parsed?.arrayValue?.first {
            let code = first["errorCode"]?.stringValue.map { "\($0): " } ?? ""
            text = first["message"]?.stringValue.map { code + $0 }
        } else if let object = parsed {
            text =
                object["message"]?.stringValue ?? object["error"]?.stringValue
                ?? object["error_description"]?.stringValue
        }
        let body = text ?? String(decoding: response.body.prefix(300), as: UTF8.self)
        return "HTTP \(response.status): \(body.prefix(1000))"
    }

    /// The failure a non-2xx answer means (401 is the connector's to handle first).
    static func failure(_ response: HTTPResponse) -> DeliveryFailure {
        let message = message(response)
        switch response.status {
        case 429: return DeliveryFailure(.rateLimited(after: requestedDelay(response)), status: 429, message)
        case 408, 425, 500...599: return DeliveryFailure(.transient, status: response.status, message)
        case 401: return DeliveryFailure(.transient, status: 401, message + " (the credential was refused)")
        default: return DeliveryFailure(.permanent, status: response.status, message)
        }
    }

    static func json(_ value: JSONValue) -> Data {
        (try? JSONCoding.encode(value)) ?? Data("{}".utf8)
    }

    /// CRM properties are strings: constants that are numbers or booleans are written as text.
    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        default: return nil
        }
    }
}
