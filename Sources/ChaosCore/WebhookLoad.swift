import Foundation
import LeadlineHTTP
import LeadlineTestDoubles
import NIOConcurrencyHelpers

/// Meta's side under chaos: concurrent signed webhook POSTs, one to three leads each, every
/// lead a distinct leadgen id. A request is repeated until it gets a 200, as Meta retries; only
/// a 200 acknowledges its leads. Some requests resend leads already acknowledged.
final class WebhookLoad: Sendable {
    struct Counts: Sendable {
        var requests = 0
        var acknowledgedRequests = 0
        var resends = 0
        var connectionErrors = 0
        var refusals: [Int: Int] = [:]
    }

    private let url: String
    private let appSecret: String
    private let options: ChaosOptions
    private let random: SeededRandom
    private let http: HTTPClient
    private let nextLead = NIOLockedValueBox(0)
    private let acknowledgedIDs = NIOLockedValueBox<[String]>([])
    private let unacknowledgedIDs = NIOLockedValueBox<[String]>([])
    private let counts = NIOLockedValueBox(Counts())
    private let startedAt = ContinuousClock.now

    /// Leadgen ids: a fixed prefix and the lead's number (each run has a fresh stack).
    static func leadgenID(_ index: Int) -> String { String(900_000_000_000_000 + index) }

    init(url: String, appSecret: String, options: ChaosOptions, random: SeededRandom) {
        self.url = url
        self.appSecret = appSecret
        self.options = options
        self.random = random
        var configuration = HTTPClient.Configuration()
        configuration.keptHandles = options.senders
        configuration.connectTimeout = .seconds(5)
        configuration.totalTimeout = .seconds(15)
        http = HTTPClient(configuration: configuration)
    }

    var acknowledged: [String] { acknowledgedIDs.withLockedValue { $0 } }
    var unacknowledged: [String] { unacknowledgedIDs.withLockedValue { $0 } }
    var acknowledgedCount: Int { acknowledgedIDs.withLockedValue { $0.count } }
    var sentCount: Int { min(nextLead.withLockedValue { $0 }, options.leads) }
    var snapshot: Counts { counts.withLockedValue { $0 } }

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<options.senders { group.addTask { await self.sendUntilDone() } }
        }
    }

    private func sendUntilDone() async {
        while let (first, batch) = takeBatch() {
            if options.rate > 0 {
                let due = startedAt + .milliseconds(Int64(Double(first) / options.rate * 1000))
                try? await Task.sleep(until: due, clock: .continuous)
            }
            if await deliver(batch) {
                acknowledgedIDs.withLockedValue { $0 += batch }
            } else {
                unacknowledgedIDs.withLockedValue { $0 += batch }
            }
            if random.chance(options.resendShare), let old = random.element(of: acknowledged) {
                counts.withLockedValue { $0.resends += 1 }
                _ = await deliver([old])
            }
        }
    }

    /// The next one to three leads, and the number of the first (its place in the schedule).
    private func takeBatch() -> (Int, [String])? {
        let size = random.int(in: 1...3)
        return nextLead.withLockedValue { next -> (Int, [String])? in
            guard next < options.leads else { return nil }
            let end = min(next + size, options.leads)
            defer { next = end }
            return (next, (next..<end).map(Self.leadgenID))
        }
    }

    /// True once the webhook answered 200; false when the sender gave up.
    private func deliver(_ leadgenIDs: [String]) async -> Bool {
        let body = MetaWebhook.body(leadgenIDs: leadgenIDs)
        let request = HTTPRequest(
            method: "POST", url: url,
            headers: [
                ("Content-Type", "application/json"),
                ("X-Hub-Signature-256", MetaWebhook.signature(of: body, appSecret: appSecret)),
            ], body: body)
        let deadline = ContinuousClock.now + .milliseconds(Int64(options.giveUpAfter * 1000))
        var attempt = 0
        while ContinuousClock.now < deadline {
            attempt += 1
            counts.withLockedValue { $0.requests += 1 }
            do {
                let response = try await http.send(request)
                if response.status == 200 {
                    counts.withLockedValue { $0.acknowledgedRequests += 1 }
                    return true
                }
                counts.withLockedValue { $0.refusals[response.status, default: 0] += 1 }
            } catch {
                counts.withLockedValue { $0.connectionErrors += 1 }
            }
            // Meta backs off between retries; a short one keeps the run short.
            try? await Task.sleep(for: .milliseconds(min(50 * attempt, 1000)))
        }
        return false
    }
}
