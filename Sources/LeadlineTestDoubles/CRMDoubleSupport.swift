import Foundation
import NIOConcurrencyHelpers

/// A fault a CRM double answers the next request with. Faults that reject (`conflict`,
/// `validation`, `rateLimited`, `retryAfter`, `serverError`) change nothing in the double's
/// store; faults that lose the answer (`timeout`, `reset`, `truncated`) apply the write first, as
/// a real CRM that committed and then failed to answer would: that is the case that makes
/// duplicates.
public enum CRMFault: Sendable {
    case conflict
    case validation
    /// The vendor's own rate-limit answer, with the fixture's rate headers.
    case rateLimited
    /// 429 with `Retry-After: seconds` and no other rate header, so the header alone sets the
    /// wait. Salesforce never sends one: its double answers with its request-limit 403 instead.
    case retryAfter(seconds: Int)
    case serverError(Int)
    /// Answers after `delay` (longer than the client waits).
    case timeout(Duration)
    case reset
    /// Answers normally after `delay` (shorter than the client waits).
    case slow(Duration)
    case truncated

    /// Answers normally: queued first, it moves the next fault to a later request of a delivery.
    public static let answerNormally = CRMFault.slow(.zero)
}

/// Faults queued by a test, consumed one per API request in order.
public final class FaultSchedule: Sendable {
    private let queue = NIOLockedValueBox<[CRMFault]>([])

    public init() {}

    public func add(_ faults: [CRMFault]) { queue.withLockedValue { $0 += faults } }
    public func add(_ fault: CRMFault, times: Int = 1) { add(Array(repeating: fault, count: times)) }
    public var pending: Int { queue.withLockedValue { $0.count } }
    public func clear() { queue.withLockedValue { $0 = [] } }

    func next() -> CRMFault? {
        queue.withLockedValue { $0.isEmpty ? nil : $0.removeFirst() }
    }

    /// The answer after the write was applied, mangled the way the fault loses it.
    static func lose(_ response: CannedResponse, to fault: CRMFault?) -> CannedResponse {
        var response = response
        switch fault {
        case .timeout(let delay)?, .slow(let delay)?: response.delay = delay
        case .reset?: return .reset
        case .truncated?: response.truncateBody = true
        default: break
        }
        return response
    }
}

/// OAuth and token bookkeeping of a double: which access tokens are valid, the refresh token,
/// how many refreshes happened. `expireAccessTokens()` makes every issued token fail with 401
/// until the client refreshes.
public final class TokenBook: Sendable {
    private struct State {
        var valid: Set<String>
        var refreshToken: String
        var issued = 0
    }
    private let state: NIOLockedValueBox<State>
    private let prefix: String

    public init(accessToken: String, refreshToken: String, prefix: String) {
        state = NIOLockedValueBox(State(valid: [accessToken], refreshToken: refreshToken))
        self.prefix = prefix
    }

    public func expireAccessTokens() { state.withLockedValue { $0.valid = [] } }
    public var refreshes: Int { state.withLockedValue { $0.issued } }

    func isValid(_ token: String?) -> Bool {
        guard let token else { return false }
        return state.withLockedValue { $0.valid.contains(token) }
    }

    /// A new access token when `refreshToken` is the current one (as the token endpoint does;
    /// tests call it to play another refresher).
    public func refresh(with refreshToken: String?) -> String? {
        state.withLockedValue { state in
            guard refreshToken == state.refreshToken else { return nil }
            state.issued += 1
            let token = "\(prefix)\(state.issued)"
            state.valid.insert(token)
            return token
        }
    }

    static func bearer(_ request: RecordedRequest) -> String? {
        guard let header = request.header("Authorization"), header.hasPrefix("Bearer ") else { return nil }
        return String(header.dropFirst("Bearer ".count))
    }
}

/// Fixture bodies and headers from ../shared/fixtures, as the doubles send them.
enum VendorFixture {
    static func body(_ path: String) -> Any {
        let json = (try? Fixtures.json(path)) ?? [:]
        if let wrapped = json as? [String: Any], wrapped["httpStatus"] != nil { return wrapped["body"] ?? [:] }
        return json
    }

    static func headers(_ path: String) -> [(String, String)] {
        guard let json = (try? Fixtures.json(path)) as? [String: Any],
            let headers = json["headers"] as? [String: String]
        else { return [] }
        return headers.sorted { $0.key < $1.key }
    }

    static func response(_ status: Int, _ path: String, headers: [(String, String)] = []) -> CannedResponse {
        .json(status, object: body(path), headers: Self.headers(path) + headers)
    }

    static func form(_ body: Data) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    static func isoNow() -> String {
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        style.timeZone = .gmt
        return Date().formatted(style)
    }
}
