import Foundation
import LeadlineConfig
import LeadlineRPC
import LeadlineRuntime
import Logging
import NIOConcurrencyHelpers

/// Fetches each received leadgen id from the Graph API and stores the normalized lead. Meta
/// refusing never drops a lead: temporary errors and rate limits back off, token and
/// permission errors hold the page's leads until the vault has a new token for it.
final class RetrievalWorker: Sendable {
    private let store: IngestStore
    private let graph: GraphClient
    private let secrets: any SecretSource
    private let meta: LeadlineConfig.Meta
    private let logger: Logger
    let wakeup = Wakeup()
    private let handoffWakeup: Wakeup
    private let intake: IntakeLoad
    private let backoff = Backoff(base: .seconds(1), cap: .seconds(900))
    private let inFlight = NIOLockedValueBox<Set<String>>([])
    private let lastTokenCheck = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    static let batchSize = 16

    init(
        store: IngestStore, graph: GraphClient, secrets: any SecretSource, meta: LeadlineConfig.Meta, logger: Logger,
        handoffWakeup: Wakeup, intake: IntakeLoad
    ) {
        self.store = store
        self.graph = graph
        self.secrets = secrets
        self.meta = meta
        self.logger = logger
        self.handoffWakeup = handoffWakeup
        self.intake = intake
    }

    var fetchingCount: Int { inFlight.withLockedValue { $0.count } }

    func loop() -> BackgroundLoop {
        BackgroundLoop(name: "graph-retrieval", interval: .seconds(1), wakeup: wakeup, logger: logger) {
            await self.runOnce()
        }
    }

    /// One pass: release pages that got a new token, give way to a webhook burst, then fetch a
    /// batch concurrently.
    func runOnce() async -> Bool {
        await releasePagesWithNewTokens()
        let yielded = await intake.yieldWhileBusy()
        if yielded > .zero {
            logger.debug(
                "retrieval gave way to webhook intake", metadata: ["waitedMs": "\(Int(yielded / .milliseconds(1)))"])
        }
        let rows: [IngestStore.InboxRow]
        do {
            rows = try await store.dueForFetch(limit: Self.batchSize, excluding: inFlight.withLockedValue { $0 })
        } catch {
            logger.error("cannot read the inbox", metadata: ["error": "\(type(of: error))"])
            return false
        }
        if rows.isEmpty { return false }
        inFlight.withLockedValue { $0.formUnion(rows.map(\.change.leadgenID)) }
        await withTaskGroup(of: Void.self) { group in
            for row in rows {
                group.addTask {
                    await self.fetch(row)
                    _ = self.inFlight.withLockedValue { $0.remove(row.change.leadgenID) }
                }
            }
        }
        return rows.count == Self.batchSize
    }

    private func fetch(_ row: IngestStore.InboxRow) async {
        let pageID = row.change.pageID
        let token: Secret
        do {
            token = try await secrets.secret(named: meta.pageTokenPrefix + pageID, fresh: false)
        } catch .unavailable {
            await retryLater(row, reason: "vault unavailable", countsAsAttempt: false)
            return
        } catch {
            await holdPage(pageID, reason: "token-missing", tokenVersion: nil)
            return
        }
        // Without the app secret the request goes without appsecret_proof; apps that require the
        // proof then answer with a permission error, which holds the page visibly.
        let appSecret = try? await secrets.secret(named: meta.appSecret, fresh: false)
        do {
            let raw = try await graph.lead(id: row.change.leadgenID, token: token.value, appSecret: appSecret?.value)
            let lead = LeadNormalizer.fromGraph(raw, leadID: row.leadID, change: row.change, receivedAt: row.receivedAt)
            try await store.storeFetchedLead(lead, orOnce: Self.batchSize)
            handoffWakeup.signal()
        } catch let failure as GraphFailure {
            await handle(failure, row: row, tokenVersion: token.version)
        } catch {
            logger.error(
                "cannot store a fetched lead", metadata: ["lead": "\(row.leadID)", "error": "\(type(of: error))"])
            await retryLater(row, reason: "storage", countsAsAttempt: false)
        }
    }

    private func handle(_ failure: GraphFailure, row: IngestStore.InboxRow, tokenVersion: Int64) async {
        switch failure {
        case .temporary(let detail):
            await retryLater(row, reason: detail)
        case .rateLimited(let retryAfter):
            logger.warning(
                "Graph API rate limit; backing off",
                metadata: ["page": "\(row.change.pageID)", "retryAfter": "\(retryAfter.map { "\($0)" } ?? "backoff")"])
            await retryLater(row, reason: "rate limited", atLeast: retryAfter ?? .seconds(60))
        case .tokenInvalid:
            await holdPage(row.change.pageID, reason: "token-invalid", tokenVersion: tokenVersion)
        case .permissionDenied:
            await holdPage(row.change.pageID, reason: "permission-denied", tokenVersion: tokenVersion)
        case .notFound:
            logger.warning("Graph API says the lead does not exist; marked failed", metadata: ["lead": "\(row.leadID)"])
            do { try await store.failFetch(row, reason: "not-found") } catch {
                await retryLater(row, reason: "storage", countsAsAttempt: false)
            }
        }
    }

    /// Meta's refusals grow the lead's backoff. Our own outages (the vault down, the disk
    /// refusing a write) do not: they say nothing about the lead, and a vault down for an hour
    /// must not leave every lead that arrived meanwhile waiting up to 15 minutes after it returns.
    private func retryLater(
        _ row: IngestStore.InboxRow, reason: String, atLeast: Duration? = nil, countsAsAttempt: Bool = true
    ) async {
        let attempts = countsAsAttempt ? row.attempts + 1 : row.attempts
        logger.info(
            "lead fetch deferred",
            metadata: ["lead": "\(row.leadID)", "attempts": "\(attempts)", "reason": "\(reason)"])
        let until =
            countsAsAttempt
            ? backoff.until(afterAttempts: attempts, atLeast: atLeast)
            : Date().addingTimeInterval(Self.localOutageRetrySeconds)
        try? await store.deferFetch(leadgenID: row.change.leadgenID, attempts: attempts, until: until)
    }

    static let localOutageRetrySeconds: TimeInterval = 3

    /// The page's leads stay queued (and are counted as waitingToken) until a new token arrives.
    private func holdPage(_ pageID: String, reason: String, tokenVersion: Int64?) async {
        logger.warning(
            "page needs attention: its leads are held until a new page token is stored in the vault",
            metadata: ["page": "\(pageID)", "reason": "\(reason)", "secret": "\(meta.pageTokenPrefix)\(pageID)"])
        do {
            try await store.markPageNeedingAttention(pageID: pageID, reason: reason, tokenVersion: tokenVersion)
        } catch {
            logger.error("cannot record the page as needing attention", metadata: ["error": "\(type(of: error))"])
        }
    }

    /// Held pages are looked at again every few seconds: a token stored since (a new vault version,
    /// or any version when it was missing) releases the page's leads.
    private func releasePagesWithNewTokens() async {
        let now = ContinuousClock.now
        let due = lastTokenCheck.withLockedValue { last -> Bool in
            if let last, now - last < .seconds(2) { return false }
            last = now
            return true
        }
        guard due, let pages = try? await store.pagesNeedingAttention(), !pages.isEmpty else { return }
        for page in pages {
            guard let token = try? await secrets.secret(named: meta.pageTokenPrefix + page.pageID, fresh: true) else {
                continue
            }
            if page.tokenVersion == nil || token.version != page.tokenVersion {
                logger.notice(
                    "new page token found; releasing the page's held leads", metadata: ["page": "\(page.pageID)"])
                try? await store.clearPageAttention(pageID: page.pageID)
                wakeup.signal()
            }
        }
    }
}
