import Foundation
import GRDB
import LeadlineRPC
import LeadlineRuntime
import LeadlineStorage
import NIOConcurrencyHelpers

/// Every read and write ingest makes, over its one database. Writes that answer a caller
/// (webhooks, submitLead) go through the group committer so concurrent requests share an fsync.
final class IngestStore: Sendable {
    let storage: Storage
    let spool: AuditSpool
    private let lastWebhookRecorded = NIOLockedValueBox<ContinuousClock.Instant?>(nil)

    init(storage: Storage, spool: AuditSpool) {
        self.storage = storage
        self.spool = spool
    }

    // MARK: inbox

    struct InboxRow: Sendable {
        var change: LeadgenChange
        var leadID: String
        var receivedAt: String
        var attempts: Int
    }

    /// Stores a webhook's leadgen changes in one shared commit; returns how many were new.
    /// Duplicates (Meta retries, the same change twice in a batch) keep their first row.
    /// `completion` runs on the database writer's thread, after the commit.
    func storeWebhookChanges(
        _ changes: [LeadgenChange], receivedAt: String,
        completion: @escaping @Sendable (Result<Int, any Error>) -> Void
    ) {
        // lastWebhookAt is for `leadctl status`: written at most once a second, not once per request.
        let now = ContinuousClock.now
        let recordTime = lastWebhookRecorded.withLockedValue { last in
            if let last, now - last < .seconds(1) { return false }
            last = now
            return true
        }
        // Drawn here, in parallel on the request's loop, rather than on the writer every ack waits
        // for; a duplicate's id is simply not used.
        let withIDs = changes.map { ($0, LeadID.make()) }
        storage.groupedWrite(
            { db in
                let inserted = try Self.insertChanges(withIDs, receivedAt: receivedAt, state: "received", db: db)
                if recordTime { try Self.setState("lastWebhookAt", receivedAt, db: db) }
                return inserted.count
            }, completion: completion)
    }

    /// Inserts inbox rows, each change with the lead id it gets if new; returns the changes that
    /// were new, with their lead ids.
    static func insertChanges(
        _ changes: [(LeadgenChange, leadID: String)], receivedAt: String, state: String, db: Database
    ) throws -> [(LeadgenChange, String)] {
        var inserted: [(LeadgenChange, String)] = []
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO inbox (leadgen_id, lead_id, page_id, form_id, ad_id, adgroup_id, created_time,
                    received_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        // A row that would not change is not rewritten: many leads share their form's newest
        // created_time (a second's worth of them at a busy form).
        let form = try db.cachedStatement(
            sql: """
                INSERT INTO forms (form_id, page_id, last_created_time) VALUES (?, ?, ?)
                ON CONFLICT(form_id) DO UPDATE SET page_id = excluded.page_id,
                    last_created_time = max(coalesce(last_created_time, 0), coalesce(excluded.last_created_time, 0))
                WHERE page_id IS NOT excluded.page_id
                    OR coalesce(last_created_time, 0) < coalesce(excluded.last_created_time, 0)
                """)
        // Bound directly: these run on the one writer for every acknowledged webhook.
        for (change, leadID) in changes {
            let added = try insert.executeDirect(
                [
                    .text(change.leadgenID), .text(leadID), .text(change.pageID), .text(change.formID),
                    .text(change.adID), .text(change.adgroupID), .integer(change.createdTime),
                    .text(receivedAt), .text(state),
                ], in: db)
            // A duplicate tells nothing new about its form: only new changes touch the forms table.
            guard added > 0 else { continue }
            inserted.append((change, leadID))
            if let formID = change.formID {
                _ = try form.executeDirect(
                    [.text(formID), .text(change.pageID), .integer(change.createdTime)], in: db)
            }
        }
        return inserted
    }

    /// Inbox rows due for a Graph API fetch, oldest first, skipping pages held for an operator.
    func dueForFetch(limit: Int, excluding busy: Set<String>) async throws -> [InboxRow] {
        let now = Date().timeIntervalSince1970
        return try await storage.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT * FROM inbox WHERE state = 'received' AND next_attempt_at <= ?
                          AND page_id NOT IN (SELECT page_id FROM pages_needing_attention)
                        ORDER BY next_attempt_at, received_at LIMIT ?
                        """), arguments: [now, limit + busy.count]
            ).compactMap { row -> InboxRow? in
                let leadgenID: String = row["leadgen_id"]
                if busy.contains(leadgenID) { return nil }
                return InboxRow(
                    change: LeadgenChange(
                        leadgenID: leadgenID, pageID: row["page_id"], formID: row["form_id"], adID: row["ad_id"],
                        adgroupID: row["adgroup_id"], createdTime: row["created_time"]),
                    leadID: row["lead_id"], receivedAt: row["received_at"], attempts: row["attempts"])
            }.prefix(limit).map { $0 }
        }
    }

    /// Stores a lead fetched from the Graph API and moves its inbox row on, in one transaction.
    /// Its webhook was acknowledged long before, so
    /// the write rides on the next commit another write needs (within `ridingFor`, or once a
    /// whole retrieval batch of them waits): at 1,000 webhooks a second, giving each fetched lead
    /// a commit of its own doubled the fsyncs the acknowledgements queue behind.
    func storeFetchedLead(_ lead: Lead, ridingFor maxWait: Duration = .milliseconds(20), orOnce enough: Int)
        async throws
    {
        let row = try Self.leadRow(lead)
        try await storage.groupedWrite(ridingFor: maxWait, orOnce: enough) { db in
            try Self.insertLead(row, db: db)
            try db.cachedStatement(sql: "UPDATE inbox SET state = 'ready' WHERE leadgen_id = ? AND state = 'received'")
                .execute(arguments: [lead.source.externalId])
        }
    }

    func deferFetch(leadgenID: String, attempts: Int, until: Date) async throws {
        try await storage.groupedWrite { db in
            try db.cachedStatement(sql: "UPDATE inbox SET attempts = ?, next_attempt_at = ? WHERE leadgen_id = ?")
                .execute(arguments: [attempts, until.timeIntervalSince1970, leadgenID])
        }
    }

    /// Graph says the lead does not exist (deleted by the advertiser): kept as failed, audited.
    func failFetch(_ row: InboxRow, reason: String) async throws {
        let spool = self.spool
        try await storage.groupedWrite { db in
            try db.execute(
                sql: "UPDATE inbox SET state = 'failed' WHERE leadgen_id = ?", arguments: [row.change.leadgenID])
            try spool.record(
                [
                    AuditEvent(
                        action: "ingest.fetchFailed", subject: row.leadID, outcome: "failed",
                        details: ["reason": .string(reason)])
                ],
                in: db)
        }
    }

    // MARK: pages needing attention

    struct PageAttention: Sendable {
        var pageID: String
        var reason: String
        var since: String
        var tokenVersion: Int64?
    }

    func markPageNeedingAttention(pageID: String, reason: String, tokenVersion: Int64?) async throws {
        let spool = self.spool
        try await storage.groupedWrite { db in
            try db.execute(
                sql: """
                    INSERT INTO pages_needing_attention (page_id, reason, since, token_version) VALUES (?, ?, ?, ?)
                    ON CONFLICT(page_id) DO NOTHING
                    """, arguments: [pageID, reason, Timestamp.now(), tokenVersion])
            if db.changesCount > 0 {
                try spool.record(
                    [AuditEvent(action: "ingest.pageNeedsAttention", subject: "meta/page/\(pageID)", outcome: reason)],
                    in: db)
            }
        }
    }

    func clearPageAttention(pageID: String) async throws {
        let spool = self.spool
        try await storage.groupedWrite { db in
            try db.execute(sql: "DELETE FROM pages_needing_attention WHERE page_id = ?", arguments: [pageID])
            if db.changesCount > 0 {
                try spool.record(
                    [AuditEvent(action: "ingest.pageReleased", subject: "meta/page/\(pageID)", outcome: "ok")], in: db)
            }
        }
    }

    func pagesNeedingAttention() async throws -> [PageAttention] {
        try await storage.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM pages_needing_attention ORDER BY page_id").map {
                PageAttention(
                    pageID: $0["page_id"], reason: $0["reason"], since: $0["since"], tokenVersion: $0["token_version"])
            }
        }
    }

    // MARK: leads

    struct LeadRow: Sendable {
        var id: String
        var formID: String?
        var receivedAt: String
        var email: String?
        var phone: String?
        var body: String
    }

    static func leadRow(_ lead: Lead) throws -> LeadRow {
        LeadRow(
            id: lead.id, formID: lead.source.formId, receivedAt: lead.receivedAt, email: lead.fields["email"],
            phone: lead.fields["phone"], body: String(decoding: try JSONCoding.encode(lead), as: UTF8.self))
    }

    static func insertLead(_ row: LeadRow, db: Database) throws {
        try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO leads (id, form_id, received_at, email, phone, body) VALUES (?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [row.id, row.formID, row.receivedAt, row.email, row.phone, row.body])
    }

    enum SubmitOutcome: Sendable {
        case stored(String)
        case duplicate(String)
    }

    /// A submitted lead and its idempotency key, in one shared commit.
    func storeSubmittedLead(_ lead: Lead, idempotencyKey: String, actor: String) async throws -> SubmitOutcome {
        let row = try Self.leadRow(lead)
        let spool = self.spool
        return try await storage.groupedWrite { db in
            if let existing = try String.fetchOne(
                db, sql: "SELECT lead_id FROM idempotency_keys WHERE key = ?", arguments: [idempotencyKey])
            {
                return .duplicate(existing)
            }
            try db.execute(
                sql: "INSERT INTO idempotency_keys (key, lead_id) VALUES (?, ?)", arguments: [idempotencyKey, lead.id])
            try Self.insertLead(row, db: db)
            try spool.record(
                [
                    AuditEvent(
                        action: "ingest.submitLead", subject: lead.id, outcome: "ok", details: ["actor": .string(actor)]
                    )
                ],
                in: db)
            return .stored(lead.id)
        }
    }

    func lead(id: String) async throws -> Lead? {
        try await storage.read { db in
            try String.fetchOne(db, sql: "SELECT body FROM leads WHERE id = ?", arguments: [id]).map(Self.decodeLead)
        }
    }

    static func decodeLead(_ body: String) throws -> Lead {
        try JSONCoding.decode(Lead.self, from: body.utf8)
    }

    /// Newest first by (received_at, id); `after` is the last (received_at, id) of the previous page.
    func listLeads(limit: Int, after: (String, String)?, formID: String?, since: String?) async throws -> [Lead] {
        try await storage.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let after {
                conditions.append("(received_at, id) < (?, ?)")
                _ = arguments.append(contentsOf: [after.0, after.1])
            }
            if let formID {
                conditions.append("form_id = ?")
                _ = arguments.append(contentsOf: [formID])
            }
            if let since {
                conditions.append("received_at >= ?")
                _ = arguments.append(contentsOf: [since])
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [limit])
            return try String.fetchAll(
                db, sql: "SELECT body FROM leads \(filter) ORDER BY received_at DESC, id DESC LIMIT ?",
                arguments: arguments
            ).map(Self.decodeLead)
        }
    }

    func findLeads(email: String?, phone: String?) async throws -> [Lead] {
        try await storage.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT body FROM leads WHERE (email IS NOT NULL AND email = ?) OR (phone IS NOT NULL AND phone = ?)
                    ORDER BY received_at DESC, id DESC LIMIT 1000
                    """, arguments: [email, phone]
            ).map(Self.decodeLead)
        }
    }

    /// Removes the leads' personal data for good; their inbox rows stay as "erased" (ids only) so a
    /// late Meta retry or a reconciliation pass does not bring the lead back.
    func eraseLeads(ids: [String], receipt: String?, actor: String) async throws -> (erased: Int, notFound: [String]) {
        let spool = self.spool
        let result = try await storage.write { db -> (Int, [String]) in
            var erased = 0
            var notFound: [String] = []
            for id in ids {
                try db.execute(sql: "DELETE FROM leads WHERE id = ?", arguments: [id])
                if db.changesCount > 0 {
                    erased += 1
                    try db.execute(sql: "UPDATE inbox SET state = 'erased' WHERE lead_id = ?", arguments: [id])
                    try spool.record(
                        [
                            AuditEvent(
                                action: "ingest.eraseLead", subject: id, outcome: "ok",
                                details: ["actor": .string(actor)].merging(
                                    receipt.map { ["receipt": .string($0)] } ?? [:]
                                ) {
                                    a, _ in a
                                })
                        ],
                        in: db)
                } else {
                    notFound.append(id)
                }
            }
            return (erased, notFound)
        }
        // The deleted rows must not linger in the write-ahead log either.
        if result.0 > 0 { try? await storage.checkpointTruncate() }
        return result
    }

    // MARK: retention

    /// Removes the personal data of leads received more than `leadDays` ago that the router
    /// already holds (its own copy lives until every delivery settled); a lead not yet handed
    /// off is never removed, whatever its age. The inbox rows stay as "expired" (ids only) so a
    /// late Meta retry or a reconciliation pass does not fetch the lead again.
    func applyRetention(leadDays: Int, now: Date) async throws -> [String: Int] {
        let cutoff = Timestamp.format(now.addingTimeInterval(-Double(leadDays) * 86_400))
        let spool = self.spool
        let removed = try await storage.write { db -> Int in
            let due = try String.fetchAll(
                db, sql: "SELECT id FROM leads WHERE handed_off = 1 AND received_at < ?", arguments: [cutoff])
            guard !due.isEmpty else { return 0 }
            for id in due {
                try db.execute(sql: "DELETE FROM leads WHERE id = ?", arguments: [id])
                try db.execute(sql: "UPDATE inbox SET state = 'expired' WHERE lead_id = ?", arguments: [id])
            }
            try spool.record(
                [
                    AuditEvent(
                        action: "ingest.retentionApplied", subject: "", outcome: "ok",
                        details: ["leads": .int(Int64(due.count)), "leadDays": .int(Int64(leadDays))])
                ], in: db)
            return due.count
        }
        // The deleted rows must not linger in the write-ahead log either.
        if removed > 0 { try? await storage.checkpointTruncate() }
        return ["leads": removed]
    }

    // MARK: handoff

    func dueForHandoff(limit: Int) async throws -> [(id: String, attempts: Int, lead: Lead)] {
        let now = Date().timeIntervalSince1970
        return try await storage.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT id, handoff_attempts, body FROM leads WHERE handed_off = 0 AND next_handoff_at <= ?
                        ORDER BY next_handoff_at, received_at LIMIT ?
                        """), arguments: [now, limit]
            ).map { row in (row["id"], row["handoff_attempts"], try Self.decodeLead(row["body"])) }
        }
    }

    func markHandedOff(leadID: String) async throws {
        try await storage.groupedWrite { db in
            try db.cachedStatement(sql: "UPDATE leads SET handed_off = 1 WHERE id = ?").execute(arguments: [leadID])
            try db.cachedStatement(sql: "UPDATE inbox SET state = 'handedOff' WHERE lead_id = ? AND state = 'ready'")
                .execute(arguments: [leadID])
        }
    }

    func deferHandoff(leadID: String, attempts: Int, until: Date) async throws {
        try await storage.groupedWrite { db in
            try db.cachedStatement(sql: "UPDATE leads SET handoff_attempts = ?, next_handoff_at = ? WHERE id = ?")
                .execute(arguments: [attempts, until.timeIntervalSince1970, leadID])
        }
    }

    // MARK: forms and reconciliation

    struct KnownForm: Sendable {
        var formID: String
        var pageID: String?
        var lastCreatedTime: Int64?
    }

    func knownForms() async throws -> [KnownForm] {
        try await storage.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM forms ORDER BY form_id").map {
                KnownForm(formID: $0["form_id"], pageID: $0["page_id"], lastCreatedTime: $0["last_created_time"])
            }
        }
    }

    /// Leads read from /{form-id}/leads: new ones go straight to `leads` (the Graph answer already
    /// holds every field), in one transaction with their inbox rows. Returns how many were new.
    func storeReconciledLeads(_ leads: [(change: LeadgenChange, raw: JSONValue)]) async throws -> Int {
        let receivedAt = Timestamp.now()
        return try await storage.groupedWrite { db in
            var inserted = 0
            for (change, raw) in leads {
                let new = try Self.insertChanges(
                    [(change, LeadID.make())], receivedAt: receivedAt, state: "ready", db: db)
                guard let (_, leadID) = new.first else { continue }
                let lead = LeadNormalizer.fromGraph(raw, leadID: leadID, change: change, receivedAt: receivedAt)
                try Self.insertLead(try Self.leadRow(lead), db: db)
                inserted += 1
            }
            return inserted
        }
    }

    // MARK: state and stats

    static func setState(_ key: String, _ value: String, db: Database) throws {
        try db.cachedStatement(
            sql:
                "INSERT INTO ingest_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        ).execute(arguments: [key, value])
    }

    func setState(_ key: String, _ value: String) async throws {
        try await storage.groupedWrite { db in try Self.setState(key, value, db: db) }
    }

    struct Counts: Sendable {
        var leads = 0
        var received = 0
        var waitingToken = 0
        var ready = 0
        var handedOff = 0
        var failed = 0
        var lastWebhookAt: String?
        var lastReconcileAt: String?
    }

    func counts() async throws -> Counts {
        try await storage.read { db in
            var counts = Counts()
            counts.leads = try Int.fetchOne(db, sql: "SELECT count(*) FROM leads") ?? 0
            counts.ready = try Int.fetchOne(db, sql: "SELECT count(*) FROM leads WHERE handed_off = 0") ?? 0
            counts.handedOff = try Int.fetchOne(db, sql: "SELECT count(*) FROM leads WHERE handed_off = 1") ?? 0
            counts.received =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM inbox WHERE state = 'received'
                          AND page_id NOT IN (SELECT page_id FROM pages_needing_attention)
                        """) ?? 0
            counts.waitingToken =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM inbox WHERE state = 'received'
                          AND page_id IN (SELECT page_id FROM pages_needing_attention)
                        """) ?? 0
            counts.failed = try Int.fetchOne(db, sql: "SELECT count(*) FROM inbox WHERE state = 'failed'") ?? 0
            counts.lastWebhookAt = try String.fetchOne(
                db, sql: "SELECT value FROM ingest_state WHERE key = 'lastWebhookAt'")
            counts.lastReconcileAt = try String.fetchOne(
                db, sql: "SELECT value FROM ingest_state WHERE key = 'lastReconcileAt'")
            return counts
        }
    }

    /// /healthz: a real write that must reach the disk.
    func checkWritable() async -> Bool {
        do {
            try await setState("healthCheckedAt", Timestamp.now())
            return true
        } catch {
            return false
        }
    }
}
