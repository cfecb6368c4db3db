import Foundation
import LeadlineRPC
import LeadlineRuntime

/// Registers the ingest.* methods. Handlers validate, call the store, and map storage failures
/// to StorageFailure; nothing personal goes into an error.
struct IngestMethodHandlers: Sendable {
    let store: IngestStore
    let retrieval: RetrievalWorker
    let handoff: HandoffWorker
    let reconciler: Reconciler

    func register(into table: inout RPCMethodTable) {
        table.register(SubmitLead.self, .anyOf([.submitter, .admin])) { params, context in
            try await submit(params, actor: context.caller.actor)
        }
        table.register(GetLead.self, .admin) { params, _ in
            guard let lead = try await storageCall({ try await store.lead(id: params.id) }) else {
                throw RPCError.notFound("no lead \(params.id)")
            }
            return lead
        }
        table.register(ListLeads.self, .admin) { params, _ in try await list(params) }
        table.register(FindLeads.self, .admin) { params, _ in
            let email = params.email.flatMap(LeadNormalizer.normalizeEmail)
            let phone = params.phone.flatMap { PhoneNumber.normalize($0, country: nil) }
            guard params.email != nil || params.phone != nil else {
                throw RPCError.invalidParams("give email, phone or both")
            }
            if email == nil && phone == nil { return FindLeads.Result(items: []) }
            return FindLeads.Result(
                items: try await storageCall { try await store.findLeads(email: email, phone: phone) })
        }
        table.register(EraseLeads.self, .admin) { params, context in
            let result = try await storageCall {
                try await store.eraseLeads(ids: params.ids, receipt: params.receipt, actor: context.caller.actor)
            }
            return EraseLeads.Result(erased: result.erased, notFound: result.notFound)
        }
        table.register(Reconcile.self, .admin) { params, _ in
            let outcome = try await reconciler.reconcile(formID: params.formId)
            return Reconcile.Result(
                forms: outcome.forms, fetched: outcome.fetched, inserted: outcome.inserted, pages: outcome.pages)
        }
        table.register(IngestStats.self, .admin) { _, _ in try await stats() }
    }

    private func submit(_ params: SubmitLead.Params, actor: String) async throws -> SubmitLead.Result {
        let submission = params.lead
        let normalized = LeadNormalizer.normalizeFields(submission.fields)
        if let field = normalized.rejected.first {
            throw RPCError.validationFailed(
                "fields.\(field) could not be normalized (not a valid \(field == "email" || field == "workEmail" ? "email address" : "phone number"))"
            )
        }
        let receivedAt = Timestamp.now()
        let createdAt: String
        if let given = submission.createdAt {
            guard let date = Timestamp.parse(given) else {
                throw RPCError.validationFailed("createdAt is not an RFC 3339 time")
            }
            createdAt = Timestamp.format(date)
        } else {
            createdAt = receivedAt
        }
        let custom = (submission.custom ?? [:]).mapValues(LeadNormalizer.trim)
        let source = Lead.Source(
            platform: submission.source.platform, pageId: submission.source.pageId, formId: submission.source.formId,
            adId: submission.source.adId, adsetId: submission.source.adsetId, campaignId: submission.source.campaignId,
            externalId: submission.source.externalId, isOrganic: submission.source.isOrganic ?? false)
        let lead = Lead(
            id: LeadID.make(), source: source, createdAt: createdAt, receivedAt: receivedAt, fields: normalized.fields,
            custom: custom, consents: submission.consents ?? [], raw: submission.raw ?? .object([:]))
        let outcome = try await storageCall {
            try await store.storeSubmittedLead(lead, idempotencyKey: params.idempotencyKey, actor: actor)
        }
        switch outcome {
        case .stored(let id):
            handoff.wakeup.signal()
            return SubmitLead.Result(id: id, duplicate: false)
        case .duplicate(let id):
            return SubmitLead.Result(id: id, duplicate: true)
        }
    }

    private func list(_ params: ListLeads.Params) async throws -> LeadPage {
        let limit = params.limit ?? 100
        var after: (String, String)?
        if let cursor = params.cursor {
            guard let decoded = LeadCursor.decode(cursor) else {
                throw RPCError.invalidParams("param 'cursor' is not a cursor this daemon issued")
            }
            after = decoded
        }
        var since: String?
        if let given = params.since {
            guard let date = Timestamp.parse(given) else {
                throw RPCError.invalidParams("param 'since' is not an RFC 3339 time")
            }
            since = Timestamp.format(date)
        }
        let leads = try await storageCall {
            try await store.listLeads(limit: limit + 1, after: after, formID: params.formId, since: since)
        }
        let items = Array(leads.prefix(limit))
        let next =
            leads.count > limit ? items.last.map { LeadCursor.encode(receivedAt: $0.receivedAt, id: $0.id) } : nil
        return LeadPage(items: items, nextCursor: next)
    }

    private func stats() async throws -> IngestStats.Result {
        let counts = try await storageCall { try await store.counts() }
        let pages = try await storageCall { try await store.pagesNeedingAttention() }
        let fetching = retrieval.fetchingCount
        return IngestStats.Result(
            leads: counts.leads,
            inbox: .init(
                received: max(0, counts.received - fetching), fetching: fetching, ready: counts.ready,
                handedOff: counts.handedOff, waitingToken: counts.waitingToken, failed: counts.failed),
            pagesNeedingAttention: pages.map { .init(pageId: $0.pageID, reason: $0.reason, since: $0.since) },
            lastWebhookAt: counts.lastWebhookAt, lastReconcileAt: counts.lastReconcileAt)
    }

    /// Database errors become StorageFailure (their text may quote data, so it stays in the journal).
    private func storageCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError.storageFailure("the ingest database could not be read or written")
        }
    }
}

/// listLeads cursors: the last item's (receivedAt, id), base64url so it stays opaque.
enum LeadCursor {
    static func encode(receivedAt: String, id: String) -> String {
        Data("\(receivedAt)|\(id)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) -> (String, String)? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "|", maxSplits: 1).map(String.init)
        guard parts.count == 2, Timestamp.parse(parts[0]) != nil, !parts[1].isEmpty else { return nil }
        return (parts[0], parts[1])
    }
}
