import Foundation
import LeadlineConfig
import LeadlineRPC
import LeadlineRuntime
import Logging
import NIOConcurrencyHelpers

/// Closes the gap webhooks leave (Meta gives up after 36 h, proxies fail, the server was down):
/// for every form seen or configured, reads /{form-id}/leads created since the last lead seen,
/// following the paging cursors, and stores what is new. Deduplication by leadgen id makes a
/// pass safe to repeat.
final class Reconciler: Sendable {
    struct Outcome: Codable, Sendable {
        var forms = 0
        var fetched = 0
        var inserted = 0
        var pages = 0
    }

    private let store: IngestStore
    private let graph: GraphClient
    private let secrets: any SecretSource
    private let meta: LeadlineConfig.Meta
    private let configuredForms: [String]
    private let logger: Logger
    private let handoffWakeup: Wakeup
    /// One pass at a time: the periodic one and ingest.reconcile must not read the same pages twice.
    private let gate = AsyncGate()
    static let maxPagesPerForm = 1000

    init(
        store: IngestStore, graph: GraphClient, secrets: any SecretSource, meta: LeadlineConfig.Meta,
        configuredForms: [String], logger: Logger, handoffWakeup: Wakeup
    ) {
        self.store = store
        self.graph = graph
        self.secrets = secrets
        self.meta = meta
        self.configuredForms = configuredForms
        self.logger = logger
        self.handoffWakeup = handoffWakeup
    }

    func loop(interval: Int) -> BackgroundLoop {
        // The first pass waits one interval, so a restart loop cannot hammer the Graph API. No sleep
        // inside the body: graceful shutdown wakes the loop's wait, it does not cancel a sleep.
        let started = NIOLockedValueBox(false)
        return BackgroundLoop(name: "reconciliation", interval: .seconds(interval), logger: logger) {
            let isFirst = started.withLockedValue { started in
                defer { started = true }
                return !started
            }
            if isFirst { return false }
            _ = try? await self.reconcile(formID: nil)
            return false
        }
    }

    /// Reconciles one form or all. With one form named, a refusal is the caller's error; in a pass
    /// over all forms a failing form is logged (and held if its token is refused) and the pass goes on.
    func reconcile(formID: String?) async throws -> Outcome {
        try await gate.run {
            var forms = try await store.knownForms()
            for configured in configuredForms where !forms.contains(where: { $0.formID == configured }) {
                forms.append(IngestStore.KnownForm(formID: configured, pageID: nil, lastCreatedTime: nil))
            }
            if let formID { forms = forms.filter { $0.formID == formID } }
            if let formID, forms.isEmpty {
                // Nothing to read: without a lead of it or an [ingest].forms entry there is no page to ask with.
                logger.notice("reconcile: form not seen and not configured", metadata: ["form": "\(formID)"])
            }
            var outcome = Outcome()
            for form in forms {
                do {
                    try await reconcile(form, into: &outcome)
                } catch let error as RPCError {
                    if formID != nil { throw error }
                    logger.warning(
                        "reconciliation skipped a form", metadata: ["form": "\(form.formID)", "error": "\(error)"])
                }
            }
            try await store.setState("lastReconcileAt", Timestamp.now())
            logger.info(
                "reconciliation pass done",
                metadata: [
                    "forms": "\(outcome.forms)", "fetched": "\(outcome.fetched)", "inserted": "\(outcome.inserted)",
                ])
            if outcome.inserted > 0 { handoffWakeup.signal() }
            return outcome
        }
    }

    private func reconcile(_ form: IngestStore.KnownForm, into outcome: inout Outcome) async throws {
        guard let pageID = form.pageID else {
            // The page token is per page; a form never seen in a webhook has no page to ask with yet.
            throw RPCError.unavailable("form \(form.formID): its page is not known until a first lead of it arrives")
        }
        let token: Secret
        do {
            token = try await secrets.secret(named: meta.pageTokenPrefix + pageID, fresh: false)
        } catch .unavailable {
            throw RPCError.unavailable("the vault is unavailable")
        } catch {
            try await store.markPageNeedingAttention(pageID: pageID, reason: "token-missing", tokenVersion: nil)
            throw RPCError.unavailable("page \(pageID) has no readable token in the vault")
        }
        let appSecret = try? await secrets.secret(named: meta.appSecret, fresh: false)
        outcome.forms += 1
        var after: String?
        for _ in 0..<Self.maxPagesPerForm {
            let page: GraphClient.FormLeadsPage
            do {
                page = try await graph.formLeads(
                    formID: form.formID, since: form.lastCreatedTime, after: after, token: token.value,
                    appSecret: appSecret?.value)
            } catch {
                throw try await rpcError(error, pageID: pageID, tokenVersion: token.version)
            }
            outcome.pages += 1
            outcome.fetched += page.leads.count
            let leads = page.leads.compactMap { raw -> (change: LeadgenChange, raw: JSONValue)? in
                LeadgenChange(listedLead: raw, pageID: pageID, formID: form.formID).map { ($0, raw) }
            }
            outcome.inserted += try await store.storeReconciledLeads(leads)
            guard let next = page.after else { return }
            after = next
        }
    }

    private func rpcError(_ failure: GraphFailure, pageID: String, tokenVersion: Int64) async throws -> RPCError {
        switch failure {
        case .tokenInvalid:
            try await store.markPageNeedingAttention(
                pageID: pageID, reason: "token-invalid", tokenVersion: tokenVersion)
        case .permissionDenied:
            try await store.markPageNeedingAttention(
                pageID: pageID, reason: "permission-denied", tokenVersion: tokenVersion)
        case .rateLimited:
            return RPCError.rateLimited("the Graph API rate-limits page \(pageID); try later")
        case .temporary, .notFound:
            break
        }
        return RPCError.unavailable("the Graph API refused: \(failure.summary)")
    }
}

extension LeadgenChange {
    /// What a webhook would have said about a lead found in /{form-id}/leads; nil when its id
    /// is unusable. Package-visible so the fuzzer (leadline-fuzz) feeds page elements through it.
    package init?(listedLead raw: JSONValue, pageID: String, formID: String) {
        guard let id = LeadNormalizer.idString(raw["id"]), WebhookPayload.isSafeID(id) else { return nil }
        let created = raw["created_time"]?.stringValue.flatMap(Timestamp.parse).map {
            Int64($0.timeIntervalSince1970)
        }
        self.init(
            leadgenID: id, pageID: pageID, formID: LeadNormalizer.safeIDString(raw["form_id"]) ?? formID,
            adID: LeadNormalizer.safeIDString(raw["ad_id"]), adgroupID: LeadNormalizer.safeIDString(raw["adset_id"]),
            createdTime: created)
    }
}

/// Runs one body at a time, in arrival order.
actor AsyncGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        }
        busy = true
        defer {
            if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
        }
        return try await body()
    }
}
