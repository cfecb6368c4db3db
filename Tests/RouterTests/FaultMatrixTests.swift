import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// The fault matrix: each way a CRM fails, played by the real router against every double the
/// fault applies to, one lead each. Whatever happened, each pass condition is the same three
/// things: the lead is in the CRM exactly once, its delivery is delivered, and the attempts the
/// fault cost were spent and spaced as the retry policy says (measured on the double's clock).
@Suite(.serialized) struct FaultMatrixTests {
    /// The router's backoff base (RouterHarness): an attempt k retries after at least base·2^(k-1)/2.
    static let backoffBase = 0.040
    /// Short enough to keep the timeout case quick, long enough for a normal answer on a loaded
    /// machine; the stall outlasts it twice over.
    static let shortHTTPTimeout = 3.0
    static let stall: Duration = .seconds(6)
    static let retryAfterSeconds = 1
    /// Earliness forgiven in every spacing check, for clock reads on two sides of a socket.
    static let slack = 0.9

    enum Fault: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case serverErrorBurst, rateLimitedWithRetryAfter, timeout, connectionReset, truncatedResponse, expiredToken

        var testDescription: String { rawValue }

        /// The doubles the fault exists for. Salesforce signals limits with a 403 and no wait to
        /// honour; Pipedrive API tokens and webhook secrets never expire into a refresh.
        func subjects(_ harness: RouterHarness) async throws -> [any FaultMatrixSubject] {
            switch self {
            case .rateLimitedWithRetryAfter:
                return [
                    try await HubSpotSubject(harness), try await PipedriveSubject(harness),
                    try await WebhookSubject(harness),
                ]
            case .expiredToken:
                return [try await HubSpotSubject(harness), try await SalesforceSubject(harness)]
            default:
                return [
                    try await HubSpotSubject(harness), try await SalesforceSubject(harness),
                    try await PipedriveSubject(harness), try await WebhookSubject(harness),
                ]
            }
        }

        var environment: [String: String] {
            self == .timeout
                ? ["LEADLINE_ROUTER_HTTP_TIMEOUT_MS": String(Int(FaultMatrixTests.shortHTTPTimeout * 1000))] : [:]
        }

        /// What the double answers, in order; a rejection changes nothing, a lost answer loses a write.
        func schedule(for subject: any FaultMatrixSubject) -> (faults: [CRMFault], hit: Range<Int>) {
            let faults: [CRMFault]
            var lead: [CRMFault] = []
            switch self {
            case .serverErrorBurst: faults = Array(repeating: .serverError(500), count: 5)
            case .rateLimitedWithRetryAfter: faults = [.retryAfter(seconds: FaultMatrixTests.retryAfterSeconds)]
            case .timeout:
                faults = [.timeout(FaultMatrixTests.stall)]
                lead = subject.lostAnswerLead
            case .connectionReset:
                faults = [.reset]
                lead = subject.lostAnswerLead
            case .truncatedResponse:
                faults = [.truncated]
                lead = subject.lostAnswerLead
            case .expiredToken: faults = []
            }
            return (lead + faults, lead.count..<(lead.count + faults.count))
        }

        /// Attempts the delivery takes in all: each faulted request costs one, then one succeeds.
        var attempts: Int {
            switch self {
            case .serverErrorBurst: return 6
            // The refresh and the repeated write happen inside the one attempt.
            case .expiredToken: return 1
            default: return 2
            }
        }

        /// The least time between the n-th faulted request and the request after it.
        func minimumSpacing(afterFault n: Int) -> Double {
            switch self {
            case .serverErrorBurst: return FaultMatrixTests.backoffBase * pow(2, Double(n)) / 2
            case .rateLimitedWithRetryAfter: return Double(FaultMatrixTests.retryAfterSeconds)
            case .timeout: return FaultMatrixTests.shortHTTPTimeout
            case .connectionReset, .truncatedResponse: return FaultMatrixTests.backoffBase / 2
            case .expiredToken: return 0
            }
        }

        /// The sync-log entry of an attempt the fault ended.
        func expectFailedAttempt(_ attempt: JSONValue, _ subject: String) {
            let status = attempt["httpStatus"]?.intValue
            let error = attempt["error"]?.stringValue ?? ""
            #expect(!error.isEmpty, "\(subject): a failed attempt without an error")
            switch self {
            case .serverErrorBurst: #expect(status == 500, "\(subject): \(error)")
            case .rateLimitedWithRetryAfter: #expect(status == 429, "\(subject): \(error)")
            case .timeout:
                #expect(status == nil && error.hasPrefix("timed out"), "\(subject): \(error)")
                let latency = attempt["latencyMs"]?.doubleValue ?? 0
                #expect(latency >= FaultMatrixTests.shortHTTPTimeout * 1000 * FaultMatrixTests.slack)
            // A lost answer is a transport error: a truncated body is never read as a success.
            case .connectionReset, .truncatedResponse:
                #expect(status == nil && error.hasPrefix("connection reset"), "\(subject): \(error)")
            case .expiredToken: Issue.record("\(subject): the refresh should not have failed an attempt: \(error)")
            }
        }
    }

    @Test(arguments: Fault.allCases)
    func leadReachesTheCRMExactlyOnce(_ fault: Fault) async throws {
        // The real vault where its compare-and-swap is under test; the stand-in elsewhere, as
        // a vault that stops at once (the real one waits out its audit forwarder's pause).
        let harness = try await RouterHarness(environment: fault.environment, realVault: fault == .expiredToken)
        let subjects = try await fault.subjects(harness)
        var leads: [String: JSONValue] = [:]
        var hits: [String: Range<Int>] = [:]
        for (index, subject) in subjects.enumerated() {
            let schedule = fault.schedule(for: subject)
            subject.faults.add(schedule.faults)
            hits[subject.name] = schedule.hit
            if fault == .expiredToken { subject.oauth?.tokens.expireAccessTokens() }
            let lead = RouterHarness.lead(fault.rawValue, index: index + 1, formId: subject.formId)
            leads[subject.name] = lead
            _ = try await harness.enqueue(lead)
        }

        _ = try await harness.settled(expected: subjects.count, timeout: 40)
        for subject in subjects {
            let lead = try #require(leads[subject.name])
            let delivery = try #require(try await harness.deliveries(leadId: lead["id"]!.string).first)
            #expect(delivery["state"] == "delivered", "\(subject.name): \(delivery["lastError"]?.string ?? "")")
            subject.expectDeliveredOnce(delivery, lead: lead)
            #expect(subject.faults.pending == 0, "\(subject.name): faults left unplayed")

            #expect(delivery["attempts"]?.intValue == Int64(fault.attempts), "\(subject.name)")
            let log = delivery["log"]?.arrayValue ?? []
            #expect(log.count == fault.attempts, "\(subject.name): \(log.count) attempts logged")
            for attempt in log.dropLast() { fault.expectFailedAttempt(attempt, subject.name) }
            #expect(log.last?["error"] == nil, "\(subject.name): the last attempt failed")

            let requests = subject.apiRequests
            let hit = try #require(hits[subject.name])
            for (n, index) in hit.enumerated() {
                guard index + 1 < requests.count else {
                    Issue.record("\(subject.name): no request followed fault \(n + 1)")
                    continue
                }
                let spacing = requests[index + 1].receivedAt.timeIntervalSince(requests[index].receivedAt)
                let minimum = fault.minimumSpacing(afterFault: n)
                #expect(
                    spacing >= minimum * Self.slack,
                    "\(subject.name): retried \(spacing) s after fault \(n + 1), not after \(minimum) s")
            }
            if fault == .expiredToken, let oauth = subject.oauth {
                try await expectOneRefreshWrittenBack(oauth, requests: requests, harness: harness, subject.name)
            } else if let oauth = subject.oauth {
                #expect(oauth.tokens.refreshes == 0, "\(subject.name): refreshed a token that had not expired")
            }
        }
        for subject in subjects { await subject.shutdown() }
        await harness.finish()
    }

    /// One refresh, the repeated write carrying the new token, and the token written back to the
    /// vault (compare-and-swap from version 1 to 2) so the next start does not refresh again.
    func expectOneRefreshWrittenBack(
        _ oauth: OAuthSubject, requests: [RecordedRequest], harness: RouterHarness, _ subject: String
    ) async throws {
        #expect(oauth.tokens.refreshes == 1, "\(subject): \(oauth.tokens.refreshes) refreshes")
        #expect(
            requests.map { $0.header("Authorization") ?? "" } == [
                "Bearer \(oauth.initialToken)", "Bearer \(oauth.firstRefreshedToken)",
            ], "\(subject): the refused write and its repeat")
        let stored = try await harness.storedSecret(oauth.credential)
        #expect(stored.version == 2, "\(subject): credential at version \(stored.version)")
        #expect(stored.value.contains(oauth.firstRefreshedToken) && !stored.value.contains(oauth.initialToken))
    }
}
