import Crypto
import Foundation
import GRDB
import LeadlineRPC
import LeadlineRuntime
import LeadlineStorage

/// One claimed delivery, with everything a connector needs to send it.
struct DeliveryJob: Sendable {
    var id: String
    var leadId: String
    var lead: JSONValue
    /// The lead as stored: the canonical JSON `lead` was parsed from (sorted keys), sent as is by
    /// connectors that post the whole lead.
    var payload: Data
    var destination: Destination
    var fieldMap: [String: JSONValue]
    /// Attempts including this one.
    var attempts: Int
    var deadline: Double
    /// Steps of a multi-request delivery already done (e.g. the Pipedrive person id), saved durably.
    var progress: [String: String]
}

/// How one attempt ended, as the worker records it.
struct AttemptOutcome: Sendable {
    enum Verdict: Sendable {
        case delivered(recordId: String?)
        case retry(at: Double)
        case dead
    }
    var verdict: Verdict
    var httpStatus: Int?
    var latencyMs: Double
    var error: String?
}

/// The durable outbox: one row per (lead, destination), persisted before enqueueLead answers,
/// claimed by the worker, finished with its attempt log in one transaction.
struct Outbox: Sendable {
    let storage: Storage
    let spool: AuditSpool
    let routeCache: RouteCache
    let maxAttemptsSeconds: Double

    /// Stable per (lead, destination): a replayed lead can never get a second delivery.
    static func deliveryID(leadId: String, destinationId: String) -> String {
        var key = "\(leadId)\n\(destinationId)"
        let digest = key.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        // The first 13 bytes: 26 hex digits.
        return "dl_" + digest.withUnsafeBytes { Hex.encode($0.prefix(13)) }
    }

    static func matches(_ match: RouteMatch, _ lead: JSONValue) -> Bool {
        let source = lead["source"]
        if let platform = match.platform, source?["platform"]?.stringValue != platform { return false }
        if let page = match.pageId, source?["pageId"]?.stringValue != page { return false }
        if let form = match.formId, source?["formId"]?.stringValue != form { return false }
        return true
    }

    func enqueue(lead: JSONValue, actor: String) async throws -> EnqueueLead.Result {
        guard let leadId = lead["id"]?.stringValue else {
            throw RPCError.invalidParams("missing required param 'lead.id'")
        }
        let payload = String(decoding: try JSONCoding.encode(lead), as: UTF8.self)
        let now = RouterTime.now()
        let deadline = now + maxAttemptsSeconds
        let spool = self.spool
        let routeCache = self.routeCache
        // Planned before the transaction for the routes as cached now (delivery ids, the audit
        // event encoded), so the one writer every commit waits for only stores; planned again
        // inside only when a route change reloaded the routes in between.
        let planned = try routeCache.cached().map { try Self.plan(lead, leadId: leadId, routes: $0, actor: actor) }
        return try await storage.groupedWrite { db in
            // The insert is the duplicate check: a lead id seen before changes nothing.
            try db.cachedStatement(
                sql: "INSERT INTO leads (id, payload, received_at) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING"
            ).execute(arguments: [leadId, payload, now])
            if db.changesCount == 0 {
                let existing = try String.fetchAll(
                    db.cachedStatement(sql: "SELECT id FROM deliveries WHERE lead_id = ? ORDER BY id"),
                    arguments: [leadId])
                return EnqueueLead.Result(leadId: leadId, deliveries: existing, duplicate: true)
            }
            let routes = try routeCache.routes(in: db)
            let plan =
                try planned.flatMap { $0.generation == routes.generation ? $0 : nil }
                ?? Self.plan(lead, leadId: leadId, routes: routes, actor: actor)
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO deliveries (id, lead_id, destination_id, route_id, field_map, state, next_attempt_at,
                        deadline_at, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)
                    """)
            for delivery in plan.deliveries {
                let route = delivery.route.route
                try insert.execute(arguments: [
                    delivery.id, leadId, route.destinationId, route.id, delivery.route.fieldMapText, now, deadline,
                    now, now,
                ])
            }
            // No route took it: keep the id (replays stay duplicates) but not the personal data.
            if plan.deliveries.isEmpty {
                try db.cachedStatement(sql: "UPDATE leads SET payload = NULL WHERE id = ?").execute(arguments: [leadId])
            }
            try spool.record(encoded: plan.event, in: db)
            return EnqueueLead.Result(leadId: leadId, deliveries: plan.deliveries.map(\.id).sorted(), duplicate: false)
        }
    }

    /// What enqueueing a new lead writes for one version of the routes.
    private struct EnqueuePlan: Sendable {
        var generation: Int
        var deliveries: [(id: String, route: RouteCache.Entry)]
        var event: [String]
    }

    private static func plan(_ lead: JSONValue, leadId: String, routes: RouteCache.Snapshot, actor: String) throws
        -> EnqueuePlan
    {
        var deliveries: [(id: String, route: RouteCache.Entry)] = []
        var destinations = Set<String>()
        for entry in routes.entries where entry.route.enabled && matches(entry.route.match, lead) {
            // One delivery per destination even when several routes lead there: the first route by id wins.
            guard destinations.insert(entry.route.destinationId).inserted else { continue }
            deliveries.append((deliveryID(leadId: leadId, destinationId: entry.route.destinationId), entry))
        }
        let event = AuditEvent(
            action: "router.enqueueLead", subject: leadId, outcome: "accepted",
            details: ["deliveries": .int(Int64(deliveries.count)), "by": .string(actor)])
        return EnqueuePlan(generation: routes.generation, deliveries: deliveries, event: try AuditSpool.encode([event]))
    }

    // MARK: worker side

    /// After a crash or kill, deliveries left in flight go back to the queue. Their CRM writes are
    /// upserts or carry idempotency keys, so sending them again creates no duplicate.
    func recoverInterrupted() async throws -> Int {
        let now = RouterTime.now()
        return try await storage.write { db in
            try db.execute(
                sql: """
                    INSERT INTO delivery_attempts (delivery_id, at, latency_ms, error)
                    SELECT id, updated_at, 0, 'interrupted: the router stopped during this attempt'
                    FROM deliveries WHERE state = 'inflight'
                    """)
            try db.execute(
                sql: """
                    UPDATE deliveries SET state = 'retrying', next_attempt_at = ?, updated_at = ? WHERE state = 'inflight'
                    """, arguments: [now, now])
            return db.changesCount
        }
    }

    /// Destinations with deliveries due now, how many each (counted up to `atMost`), and their
    /// settings (nil: deleted). The worker asks before every claim, so this must not grow with
    /// the backlog: see ``QueueSQL``.
    func dueDestinations(now: Double, atMost: Int) async throws -> [(
        id: String, due: Int, destination: Destination?
    )] {
        try await storage.read { db in
            let ids = try String.fetchAll(db.cachedStatement(sql: QueueSQL.queuedDestinations))
            let count = try db.cachedStatement(sql: QueueSQL.countDue)
            return try ids.compactMap { id in
                let due = try Int.fetchOne(count, arguments: [id, now, atMost]) ?? 0
                guard due > 0 else { return nil }
                return (id, due, try RouterCatalog.destination(id, in: db))
            }
        }
    }

    /// Marks due deliveries in flight, up to a limit per destination, in one transaction.
    func claim(_ limits: [(destinationId: String, limit: Int)], now: Double) async throws -> [DeliveryJob] {
        try await storage.groupedWrite { db in
            try limits.flatMap { try Self.claim(destinationId: $0.destinationId, limit: $0.limit, now: now, in: db) }
        }
    }

    private static func claim(destinationId: String, limit: Int, now: Double, in db: Database) throws -> [DeliveryJob] {
        guard let destination = try RouterCatalog.destination(destinationId, in: db) else {
            // Deleted while one of its deliveries was in flight: that one came back to the queue.
            try db.execute(
                sql: """
                    UPDATE deliveries SET state = 'dead', last_error = 'destination deleted', next_attempt_at = NULL,
                    updated_at = ? WHERE destination_id = ? AND state IN ('pending', 'retrying')
                    """, arguments: [now, destinationId])
            return []
        }
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: QueueSQL.claimDue), arguments: [destinationId, now, limit])
        let markInFlight = try db.cachedStatement(
            sql: "UPDATE deliveries SET state = 'inflight', attempts = attempts + 1, updated_at = ? WHERE id = ?")
        var jobs: [DeliveryJob] = []
        jobs.reserveCapacity(rows.count)
        for row in rows {
            let id: String = row["id"]
            guard let payload: String = row["payload"] else {
                try db.execute(
                    sql:
                        "UPDATE deliveries SET state = 'dead', last_error = 'lead erased', updated_at = ? WHERE id = ?",
                    arguments: [now, id])
                continue
            }
            try markInFlight.execute(arguments: [now, id])
            let progressText: String? = row["progress"]
            let progress =
                try progressText.map {
                    try JSONCoding.decode([String: String].self, from: $0.utf8)
                } ?? [:]
            let mapText: String = row["field_map"]
            guard case .object(let fieldMap) = try JSONCoding.parse(mapText.utf8) else {
                throw RuntimeError("delivery \(id) has a field map that is not an object")
            }
            let payloadBytes = Data(payload.utf8)
            jobs.append(
                DeliveryJob(
                    id: id, leadId: row["lead_id"], lead: try JSONCoding.parse(payloadBytes), payload: payloadBytes,
                    destination: destination, fieldMap: fieldMap, attempts: (row["attempts"] as Int) + 1,
                    deadline: row["deadline_at"], progress: progress))
        }
        return jobs
    }

    func saveProgress(deliveryId: String, progress: [String: String]) async throws {
        let text = try RouterCatalog.text(progress)
        try await storage.groupedWrite { db in
            try db.execute(sql: "UPDATE deliveries SET progress = ? WHERE id = ?", arguments: [text, deliveryId])
        }
    }

    /// Records the attempt and the delivery's new state, with its audit event, in one transaction.
    /// Only a delivery still in flight changes state (an erasure or a retry may have moved it).
    func finish(_ job: DeliveryJob, _ outcome: AttemptOutcome) async throws {
        let now = RouterTime.now()
        // Planned (the audit event encoded) before the transaction, so that work does not hold up
        // the writer; planned again inside only when an erasure changed the outcome meanwhile.
        let planned = try Self.plan(job, outcome, now: now)
        let spool = self.spool
        try await storage.groupedWrite { db in
            var plan = planned
            // Erased while this attempt was under way: keep no vendor text, and do not try again.
            if try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT erased FROM leads WHERE id = ?"), arguments: [job.leadId]) == true
            {
                var erased = outcome
                erased.error = "lead erased"
                if case .delivered = erased.verdict {} else { erased.verdict = .dead }
                plan = try Self.plan(job, erased, now: now)
            }
            try db.cachedStatement(
                sql:
                    "INSERT INTO delivery_attempts (delivery_id, at, http_status, latency_ms, error) VALUES (?, ?, ?, ?, ?)"
            ).execute(arguments: [job.id, now, plan.httpStatus, plan.latencyMs, plan.error])
            try db.cachedStatement(sql: plan.sql).execute(arguments: plan.arguments)
            try spool.record(encoded: plan.event, in: db)
        }
    }

    /// What `finish` writes for one outcome: the state change and its spooled audit event.
    private struct FinishPlan: Sendable {
        var httpStatus: Int?
        var latencyMs: Double
        var error: String?
        var sql: String
        var arguments: StatementArguments
        var event: [String]
    }

    private static func plan(_ job: DeliveryJob, _ outcome: AttemptOutcome, now: Double) throws -> FinishPlan {
        let error = outcome.error.map { String($0.prefix(2000)) }
        var details: [String: JSONValue] = [
            "leadId": .string(job.leadId), "destinationId": .string(job.destination.id),
            "attempts": .int(Int64(job.attempts)),
        ]
        if let status = outcome.httpStatus { details["httpStatus"] = .int(Int64(status)) }
        let sql: String
        let arguments: StatementArguments
        let verdict: String
        switch outcome.verdict {
        case .delivered(let recordId):
            sql = """
                UPDATE deliveries SET state = 'delivered', crm_record_id = ?, last_error = NULL, next_attempt_at = NULL,
                updated_at = ? WHERE id = ? AND state = 'inflight'
                """
            arguments = [recordId, now, job.id]
            if let recordId { details["crmRecordId"] = .string(recordId) }
            verdict = "delivered"
        case .retry(let at) where at <= job.deadline:
            sql = """
                UPDATE deliveries SET state = 'retrying', next_attempt_at = ?, last_error = ?, updated_at = ?
                WHERE id = ? AND state = 'inflight'
                """
            arguments = [at, error, now, job.id]
            details["nextAttemptAt"] = .string(RouterTime.iso(at))
            verdict = "retrying"
        case .retry:
            let reason = "gave up after max_attempts_hours; last error: \(error ?? "unknown")"
            sql = """
                UPDATE deliveries SET state = 'dead', next_attempt_at = NULL, last_error = ?, updated_at = ?
                WHERE id = ? AND state = 'inflight'
                """
            arguments = [String(reason.prefix(2000)), now, job.id]
            details["reason"] = "max_attempts_hours"
            verdict = "dead"
        case .dead:
            sql = """
                UPDATE deliveries SET state = 'dead', next_attempt_at = NULL, last_error = ?, updated_at = ?
                WHERE id = ? AND state = 'inflight'
                """
            arguments = [error, now, job.id]
            verdict = "dead"
        }
        let event = AuditEvent(action: "router.deliver", subject: job.id, outcome: verdict, details: details)
        return FinishPlan(
            httpStatus: outcome.httpStatus, latencyMs: outcome.latencyMs, error: error, sql: sql, arguments: arguments,
            event: try AuditSpool.encode([event]))
    }

    // MARK: admin side

    func list(_ params: ListDeliveries.Params) async throws -> Items<Delivery> {
        let limit = params.limit ?? 100
        var after: (Double, String)?
        if let cursor = params.cursor {
            guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8),
                let bar = text.firstIndex(of: "|"), let time = Double(text[..<bar])
            else { throw RPCError.invalidParams("param 'cursor' is not a cursor this method returned") }
            after = (time, String(text[text.index(after: bar)...]))
        }
        let position = after
        return try await storage.read { db in
            var conditions: [String] = []
            var arguments: [(any DatabaseValueConvertible)?] = []
            if let state = params.state {
                conditions.append("state = ?")
                arguments.append(state.rawValue)
            }
            if let lead = params.leadId {
                conditions.append("lead_id = ?")
                arguments.append(lead)
            }
            if let (time, id) = position {
                conditions.append("(created_at < ? OR (created_at = ? AND id < ?))")
                arguments += [time, time, id] as [(any DatabaseValueConvertible)?]
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, lead_id, destination_id, route_id, state, attempts, next_attempt_at, crm_record_id, last_error,
                    created_at, updated_at FROM deliveries \(whereClause) ORDER BY created_at DESC, id DESC LIMIT ?
                    """, arguments: StatementArguments(arguments + [limit + 1] as [(any DatabaseValueConvertible)?]))
            var items: [Delivery] = []
            for row in rows.prefix(limit) {
                let state = DeliveryState(rawValue: row["state"]) ?? .pending
                let next: Double? = row["next_attempt_at"]
                var delivery = Delivery(
                    id: row["id"], leadId: row["lead_id"], destinationId: row["destination_id"],
                    routeId: row["route_id"],
                    state: state, attempts: row["attempts"],
                    nextAttemptAt: (state == .pending || state == .retrying) ? next.map(RouterTime.iso) : nil,
                    crmRecordId: row["crm_record_id"], lastError: row["last_error"],
                    createdAt: RouterTime.iso(row["created_at"]), updatedAt: RouterTime.iso(row["updated_at"]), log: nil
                )
                if params.leadId != nil {
                    delivery.log = try Row.fetchAll(
                        db,
                        sql:
                            "SELECT at, http_status, latency_ms, error FROM delivery_attempts WHERE delivery_id = ? ORDER BY id",
                        arguments: [delivery.id]
                    ).map { attempt in
                        DeliveryAttempt(
                            at: RouterTime.iso(attempt["at"]), httpStatus: attempt["http_status"],
                            latencyMs: attempt["latency_ms"], error: attempt["error"])
                    }
                }
                items.append(delivery)
            }
            var nextCursor: String?
            if rows.count > limit, let last = rows.prefix(limit).last {
                let time: Double = last["created_at"]
                let id: String = last["id"]
                nextCursor = Data("\(time)|\(id)".utf8).base64EncodedString()
            }
            return Items(items: items, nextCursor: nextCursor)
        }
    }

    func retry(_ params: RetryDeliveries.Params, actor: String) async throws -> Int {
        let states: [String] = params.state.map { [$0.rawValue] } ?? ["dead", "retrying"]
        if let state = params.state, state != .dead && state != .retrying {
            throw RPCError.invalidParams("param 'state' must be one of: dead, retrying")
        }
        let now = RouterTime.now()
        let deadline = now + maxAttemptsSeconds
        let spool = self.spool
        return try await storage.groupedWrite { db in
            var sql = """
                UPDATE deliveries SET state = 'pending', next_attempt_at = ?, deadline_at = ?, updated_at = ?
                WHERE state IN (\(states.map { _ in "?" }.joined(separator: ",")))
                AND lead_id NOT IN (SELECT id FROM leads WHERE erased = 1)
                """
            var arguments: [(any DatabaseValueConvertible)?] = [now, deadline, now] + states.map { $0 }
            if let ids = params.ids {
                sql += " AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))"
                arguments += ids.map { $0 }
            }
            try db.execute(sql: sql, arguments: StatementArguments(arguments))
            let count = db.changesCount
            try spool.record(
                [
                    AuditEvent(
                        action: "router.retryDeliveries",
                        subject: params.ids?.count == 1 ? params.ids![0] : "deliveries",
                        outcome: "ok", details: ["requeued": .int(Int64(count)), "by": .string(actor)])
                ], in: db)
            return count
        }
    }

    func erase(leadIds: [String], receipt: String?, actor: String) async throws -> Int {
        let now = RouterTime.now()
        let spool = self.spool
        let erased = try await storage.groupedWrite { db in
            var erased = 0
            for leadId in leadIds {
                let had =
                    try Bool.fetchOne(
                        db, sql: "SELECT 1 FROM leads WHERE id = ? AND erased = 0", arguments: [leadId]) == true
                // A tombstone keeps a later replay of the same lead from storing it again.
                try db.execute(
                    sql: """
                        INSERT INTO leads (id, payload, erased, received_at) VALUES (?, NULL, 1, ?)
                        ON CONFLICT(id) DO UPDATE SET payload = NULL, erased = 1
                        """, arguments: [leadId, now])
                try db.execute(
                    sql: """
                        UPDATE deliveries SET last_error = CASE WHEN state IN ('pending', 'retrying') THEN 'lead erased'
                            WHEN last_error = 'lead erased' THEN last_error ELSE NULL END,
                        state = CASE WHEN state IN ('pending', 'retrying') THEN 'dead' ELSE state END,
                        next_attempt_at = CASE WHEN state IN ('pending', 'retrying') THEN NULL ELSE next_attempt_at END,
                        updated_at = ? WHERE lead_id = ?
                        """, arguments: [now, leadId])
                try db.execute(
                    sql: """
                        UPDATE delivery_attempts SET error = NULL
                        WHERE delivery_id IN (SELECT id FROM deliveries WHERE lead_id = ?)
                        """, arguments: [leadId])
                if had {
                    erased += 1
                    try spool.record(
                        [
                            AuditEvent(
                                action: "router.eraseLeads", subject: leadId, outcome: "erased",
                                details: ["by": .string(actor)].merging(receipt.map { ["receipt": .string($0)] } ?? [:])
                                { a, _ in a })
                        ], in: db)
                }
            }
            return erased
        }
        if erased > 0 { try? await storage.checkpointTruncate() }
        return erased
    }

    func counts() async throws -> RouterStats.Result.Counts {
        try await storage.read { db in
            var counts = RouterStats.Result.Counts()
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM deliveries GROUP BY state") {
                let n: Int = row["n"]
                switch DeliveryState(rawValue: row["state"]) {
                case .pending?: counts.pending = n
                case .inflight?: counts.inflight = n
                case .retrying?: counts.retrying = n
                case .delivered?: counts.delivered = n
                case .dead?: counts.dead = n
                case nil: break
                }
            }
            return counts
        }
    }

    /// Retention: lead payloads `leadDays` after every delivery of the lead settled, attempt logs
    /// and settled deliveries after `logDays`. One transaction with its audit event, so a pass
    /// is recorded exactly when it removed something.
    func applyRetention(leadDays: Int, logDays: Int, now: Date) async throws -> [String: Int] {
        let now = now.timeIntervalSince1970
        let leadCutoff = now - Double(leadDays) * 86400
        let logCutoff = now - Double(logDays) * 86400
        let spool = self.spool
        let removed = try await storage.write { db -> [String: Int] in
            try db.execute(
                sql: """
                    UPDATE leads SET payload = NULL WHERE payload IS NOT NULL AND received_at < ?
                    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.lead_id = leads.id
                        AND (d.state IN ('pending', 'inflight', 'retrying') OR d.updated_at >= ?))
                    """, arguments: [leadCutoff, leadCutoff])
            let leadPayloads = db.changesCount
            try db.execute(sql: "DELETE FROM delivery_attempts WHERE at < ?", arguments: [logCutoff])
            let attempts = db.changesCount
            try db.execute(
                sql: "DELETE FROM deliveries WHERE state IN ('delivered', 'dead') AND updated_at < ?",
                arguments: [logCutoff])
            let removed = ["leadPayloads": leadPayloads, "deliveryAttempts": attempts, "deliveries": db.changesCount]
            if removed.values.contains(where: { $0 > 0 }) {
                try spool.record(
                    [
                        AuditEvent(
                            action: "router.retentionApplied", subject: "", outcome: "ok",
                            details: removed.mapValues { .int(Int64($0)) }.merging(
                                ["leadDays": .int(Int64(leadDays)), "deliveryLogDays": .int(Int64(logDays))]
                            ) { current, _ in current })
                    ], in: db)
            }
            return removed
        }
        // Removed personal data must not linger in the write-ahead log.
        if removed["leadPayloads", default: 0] > 0 { try? await storage.checkpointTruncate() }
        return removed
    }
}

/// The queries the delivery worker runs before and at every claim, on the due queue's partial
/// index (deliveries_queue: destination, then claim order, pending and retrying rows only).
/// Each reads about as many rows as it returns, whatever the backlog: counting every due row and
/// sorting them at each claim made deliveries slower as leads piled up (1,600 deliveries/s fell
/// to 1,050 within 8 s of a burst). INDEXED BY makes a missing index an error, not a slow scan.
enum QueueSQL {
    /// Every destination with a queued delivery, one index seek each (a loose index scan).
    static let queuedDestinations = """
        WITH RECURSIVE queued(id) AS (
            SELECT (SELECT min(destination_id) FROM deliveries INDEXED BY deliveries_queue
                    WHERE state IN ('pending', 'retrying'))
            UNION ALL
            SELECT (SELECT min(destination_id) FROM deliveries INDEXED BY deliveries_queue
                    WHERE state IN ('pending', 'retrying') AND destination_id > queued.id)
            FROM queued WHERE queued.id IS NOT NULL)
        SELECT id FROM queued WHERE id IS NOT NULL
        """

    /// A destination's deliveries due by a time, counted up to a limit. Arguments: destination, now, limit.
    static let countDue = """
        SELECT count(*) FROM (SELECT 1 FROM deliveries INDEXED BY deliveries_queue
            WHERE destination_id = ? AND state IN ('pending', 'retrying') AND next_attempt_at <= ? LIMIT ?)
        """

    /// A destination's first due deliveries in claim order, with their leads. Arguments: destination, now, limit.
    static let claimDue = """
        SELECT d.id, d.lead_id, d.field_map, d.attempts, d.deadline_at, d.progress, l.payload
        FROM deliveries d INDEXED BY deliveries_queue JOIN leads l ON l.id = d.lead_id
        WHERE d.destination_id = ? AND d.state IN ('pending', 'retrying') AND d.next_attempt_at <= ?
        ORDER BY d.next_attempt_at, d.id LIMIT ?
        """

}
