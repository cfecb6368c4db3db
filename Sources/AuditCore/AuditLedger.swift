import Foundation
import GRDB
import LeadlineRPC
import LeadlineRuntime
import LeadlineStorage
import Logging

/// The chain itself: appending (durable before it answers), checkpoints, retention, reads.
public final class AuditLedger: Sendable {
    /// An event checked and normalized, ready to be chained.
    struct PreparedEvent: Sendable {
        var time: String
        var action: String
        var subject: String
        var outcome: String
        var details: String
        var spool: (id: String, seq: Int64)?
    }

    let storage: Storage
    let signer: AuditSigner
    let clock: DaemonClock
    let checkpointEveryEvents: Int
    let logger: Logger
    /// One verification at a time: each takes a reader per core, and GRDB starts them while
    /// holding the writer, so verifications piling up past the pool's readers would hold
    /// appends back until one of them finished.
    private let verifying = Turnstile()

    public init(storage: Storage, signer: AuditSigner, clock: DaemonClock, checkpointEveryEvents: Int, logger: Logger) {
        self.storage = storage
        self.signer = signer
        self.clock = clock
        self.checkpointEveryEvents = checkpointEveryEvents
        self.logger = logger
    }

    // MARK: append

    /// Detail keys that would carry raw personal data. Daemons send keyed hashes instead
    /// (e.g. `emailHash`: HMAC-SHA256 under the [audit].pii_hash_key secret), never the value.
    static let forbiddenDetailKeys: Set<String> = ["email", "e-mail", "phone", "phonenumber", "phone_number", "mobile"]

    func prepare(_ events: [IncomingAuditEvent]) throws -> [PreparedEvent] {
        let now = AuditTime.format(clock.now())
        return try events.enumerated().map { index, event in
            var time = now
            if let sent = event.time {
                guard let normalized = AuditTime.normalize(sent) else {
                    throw RPCError.invalidParams("param 'events[\(index)].time' must be an RFC 3339 date-time")
                }
                time = normalized
            }
            let details = JSONValue.object(event.details ?? [:])
            if let key = Self.personalDataKey(in: details) {
                throw RPCError.validationFailed(
                    "events[\(index)].details has a key named '\(key)': send personal data only as a keyed hash "
                        + "(e.g. \(key)Hash), never the value")
            }
            var spool: (id: String, seq: Int64)?
            switch (event.spoolId, event.spoolSeq) {
            case (let id?, let seq?): spool = (id, seq)
            case (nil, nil): spool = nil
            default: throw RPCError.invalidParams("param 'events[\(index)]' needs spoolId and spoolSeq together")
            }
            return PreparedEvent(
                time: time, action: event.action, subject: event.subject, outcome: event.outcome,
                details: CanonicalEncoding.json(details), spool: spool)
        }
    }

    static func personalDataKey(in value: JSONValue) -> String? {
        switch value {
        case .object(let members):
            for (key, member) in members {
                if forbiddenDetailKeys.contains(key.lowercased()) { return key }
                if let found = personalDataKey(in: member) { return found }
            }
        case .array(let items):
            for item in items { if let found = personalDataKey(in: item) { return found } }
        default: break
        }
        return nil
    }

    public func append(_ events: [IncomingAuditEvent], actor: String) async throws -> AppendEvents.Result {
        let prepared = try prepare(events)
        let signer = self.signer
        let every = checkpointEveryEvents
        let now = AuditTime.format(clock.now())
        let (fresh, first, last) = try await storage.groupedWrite { db in
            let fresh = try Self.droppingResends(prepared, in: db)
            guard !fresh.isEmpty else {
                let head = try Self.head(in: db).0
                return (0, head + 1, head)
            }
            let (first, last) = try Self.chain(
                fresh, actor: actor, signer: signer, checkpointEvery: every, now: now, in: db)
            return (fresh.count, first, last)
        }
        return AppendEvents.Result(
            appended: fresh, skipped: fresh == prepared.count ? nil : prepared.count - fresh, firstSeq: first,
            lastSeq: last)
    }

    /// A spool forwards in order and deletes only what was acknowledged, so an event at or below
    /// the highest spoolSeq appended from its spool is a resend whose answer was lost. Runs in the
    /// append's transaction: the marks move exactly when the events are chained.
    static func droppingResends(_ events: [PreparedEvent], in db: Database) throws -> [PreparedEvent] {
        var marks: [String: Int64] = [:]
        var fresh: [PreparedEvent] = []
        for event in events {
            guard let spool = event.spool else {
                fresh.append(event)
                continue
            }
            if marks[spool.id] == nil {
                marks[spool.id] =
                    try Int64.fetchOne(
                        db, sql: "SELECT last_seq FROM spool_marks WHERE spool_id = ?", arguments: [spool.id])
                    ?? 0
            }
            guard spool.seq > marks[spool.id]! else { continue }
            marks[spool.id] = spool.seq
            fresh.append(event)
        }
        for (id, seq) in marks {
            try db.execute(
                sql: """
                    INSERT INTO spool_marks (spool_id, last_seq) VALUES (?, ?)
                    ON CONFLICT(spool_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)
                    """, arguments: [id, seq])
        }
        return fresh
    }

    /// Appends inside the caller's transaction and re-signs the head; checkpoints when due.
    static func chain(
        _ events: [PreparedEvent], actor: String, signer: AuditSigner, checkpointEvery: Int, now: String,
        in db: Database
    ) throws -> (Int64, Int64) {
        var (seq, previous) = try head(in: db)
        let first = seq + 1
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO events (seq, time, actor, action, subject, outcome, details, prevHash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for event in events {
            seq += 1
            let canonical = CanonicalEncoding.eventBytes(
                seq: seq, time: event.time, actor: actor, action: event.action, subject: event.subject,
                outcome: event.outcome, details: event.details, prevHash: previous)
            guard let hash = CanonicalEncoding.chainHash(prevHash: previous, canonical: canonical) else {
                throw RuntimeError("the chain head's hash is malformed")
            }
            try insert.execute(arguments: [
                seq, event.time, actor, event.action, event.subject, event.outcome, event.details, previous, hash,
            ])
            previous = hash
        }
        try db.execute(
            sql: "INSERT OR REPLACE INTO chain_head (id, seq, hash, signature) VALUES (1, ?, ?, ?)",
            arguments: [
                seq, previous, try signer.sign(CanonicalEncoding.markerBytes("head", seq: seq, hash: previous)),
            ])
        let lastCheckpoint = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM checkpoints") ?? anchorSeq(in: db)
        if seq - lastCheckpoint >= Int64(checkpointEvery) {
            try checkpoint(seq: seq, hash: previous, time: now, signer: signer, in: db)
        }
        return (first, seq)
    }

    /// The last seq and hash: from the signed head, else the anchor, else the empty chain.
    static func head(in db: Database) throws -> (Int64, String) {
        if let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM chain_head WHERE id = 1") {
            return (row["seq"], row["hash"])
        }
        if let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM anchor WHERE id = 1") {
            return (row["seq"], row["hash"])
        }
        return (0, CanonicalEncoding.zeroHash)
    }

    static func anchorSeq(in db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT seq FROM anchor WHERE id = 1") ?? 0
    }

    static func checkpoint(seq: Int64, hash: String, time: String, signer: AuditSigner, in db: Database) throws {
        let signature = try signer.sign(CanonicalEncoding.checkpointBytes(seq: seq, time: time, hash: hash))
        try db.execute(
            sql: "INSERT OR REPLACE INTO checkpoints (seq, time, hash, signature) VALUES (?, ?, ?, ?)",
            arguments: [seq, time, hash, signature])
    }

    // MARK: checkpoints

    /// Signs a checkpoint of the head if events arrived since the last one; true when it did.
    @discardableResult
    public func checkpointIfBehind() async throws -> Bool {
        let signer = self.signer
        let now = AuditTime.format(clock.now())
        return try await storage.groupedWrite { db in
            let (seq, hash) = try Self.head(in: db)
            let last = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM checkpoints") ?? 0
            guard seq > max(last, try Self.anchorSeq(in: db)) else { return false }
            try Self.checkpoint(seq: seq, hash: hash, time: now, signer: signer, in: db)
            return true
        }
    }

    public func latestCheckpoint() async throws -> LatestCheckpoint.Result {
        try await checkpointIfBehind()
        let publicKey = signer.publicKeyHex
        let latest = try await storage.read { db in
            try Row.fetchOne(db, sql: "SELECT seq, time, hash, signature FROM checkpoints ORDER BY seq DESC LIMIT 1")
                .map {
                    LatestCheckpoint.Result(
                        seq: $0["seq"], time: $0["time"], hash: $0["hash"], signature: $0["signature"],
                        publicKey: publicKey)
                }
        }
        guard let latest else { throw RPCError.notFound("the audit log is empty: no checkpoint yet") }
        return latest
    }

    // MARK: verification

    public func verify() async throws -> ChainVerification {
        let verifier = signer.verifier
        let pool = storage.pool
        return try await verifying.run { try await ChainVerifier.verify(pool: pool, verifier: verifier) }
    }

    // MARK: retention

    /// Removes the events older than `days` that form a prefix of the chain, behind a signed
    /// anchor (the last removed seq and hash) from which verification resumes, and records the
    /// pruning as an event. A chain that does not verify is left alone: pruning it would
    /// destroy the evidence, so that is refused with Conflict. Returns how many events were removed.
    @discardableResult
    public func prune(olderThanDays days: Int, now: Date) async throws -> Int {
        let verification = try await verify()
        guard verification.ok else {
            logger.critical(
                "the audit chain does not verify; retention pruning is suspended",
                metadata: ["firstBadSeq": "\(verification.firstBadSeq ?? 0)"])
            throw RPCError.conflict(
                "the audit chain does not verify from seq \(verification.firstBadSeq ?? 0); retention is suspended "
                    + "so the evidence is kept (see leadctl audit verify)")
        }
        let signer = self.signer
        let every = checkpointEveryEvents
        let cutoff = AuditTime.format(now.addingTimeInterval(-Double(days) * 86_400))
        let nowText = AuditTime.format(now)
        return try await storage.groupedWrite { db in
            let through: Int64?
            if let firstKept = try Int64.fetchOne(
                db, sql: "SELECT min(seq) FROM events WHERE time >= ?", arguments: [cutoff])
            {
                through = firstKept - 1
            } else {
                through = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events")
            }
            guard let through, through > (try Self.anchorSeq(in: db)),
                let hash = try String.fetchOne(db, sql: "SELECT hash FROM events WHERE seq = ?", arguments: [through])
            else { return 0 }
            try db.execute(sql: "DELETE FROM events WHERE seq <= ?", arguments: [through])
            let removed = db.changesCount
            try db.execute(sql: "DELETE FROM checkpoints WHERE seq <= ?", arguments: [through])
            try db.execute(
                sql: "INSERT OR REPLACE INTO anchor (id, seq, hash, time, signature) VALUES (1, ?, ?, ?, ?)",
                arguments: [
                    through, hash, nowText,
                    try signer.sign(CanonicalEncoding.markerBytes("anchor", seq: through, hash: hash)),
                ])
            let record = PreparedEvent(
                time: nowText, action: "audit.retentionPruned", subject: "", outcome: "ok",
                details: CanonicalEncoding.json(
                    .object([
                        "throughSeq": .int(through), "removed": .int(Int64(removed)), "auditDays": .int(Int64(days)),
                        "anchorHash": .string(hash),
                    ])))
            _ = try Self.chain([record], actor: "audit", signer: signer, checkpointEvery: every, now: nowText, in: db)
            return removed
        }
    }

    // MARK: reads

    struct Filter: Sendable {
        var since: String?
        var until: String?
        var action: String?
        var subject: String?
        var actor: String?
    }

    /// Events after `cursor` in seq order, at most `limit`, and whether more follow.
    func page(_ filter: Filter, cursor: String?, limit: Int) async throws -> (items: [StoredAuditEvent], more: Bool) {
        let after = try cursor.map(Self.decodeCursor) ?? 0
        var clauses = ["seq > ?"]
        var arguments: [(any DatabaseValueConvertible)?] = [after]
        if let since = filter.since {
            clauses.append("time >= ?")
            arguments.append(try Self.normalizedParam(since, "since"))
        }
        if let until = filter.until {
            clauses.append("time < ?")
            arguments.append(try Self.normalizedParam(until, "until"))
        }
        if let action = filter.action {
            if action.hasSuffix(".*") {
                let prefix = String(action.dropLast())
                clauses.append("substr(action, 1, ?) = ?")
                arguments.append(prefix.utf8.count)
                arguments.append(prefix)
            } else {
                clauses.append("action = ?")
                arguments.append(action)
            }
        }
        if let subject = filter.subject {
            clauses.append("subject = ?")
            arguments.append(subject)
        }
        if let actor = filter.actor {
            clauses.append("actor = ?")
            arguments.append(actor)
        }
        arguments.append(limit + 1)
        let sql = "SELECT * FROM events WHERE \(clauses.joined(separator: " AND ")) ORDER BY seq LIMIT ?"
        let bound = StatementArguments(arguments)
        return try await storage.read { db in
            if cursor != nil, after < (try Self.anchorSeq(in: db)) {
                throw RPCError.expired(
                    "the events after this cursor were pruned by retention; start again without a cursor")
            }
            let rows = try Row.fetchAll(db, sql: sql, arguments: bound)
            let items = try rows.prefix(limit).map { row in
                let details: String = row["details"]
                return StoredAuditEvent(
                    seq: row["seq"], time: row["time"], actor: row["actor"], action: row["action"],
                    subject: row["subject"], outcome: row["outcome"],
                    details: try JSONCoding.parse(Array(details.utf8)),
                    hash: row["hash"], prevHash: row["prevHash"])
            }
            return (items, rows.count > limit)
        }
    }

    static func encodeCursor(after seq: Int64) -> String { "seq:\(seq)" }

    static func decodeCursor(_ cursor: String) throws -> Int64 {
        guard cursor.hasPrefix("seq:"), let seq = Int64(cursor.dropFirst(4)), seq >= 0 else {
            throw RPCError.invalidParams("param 'cursor' is not a cursor this daemon issued")
        }
        return seq
    }

    static func normalizedParam(_ text: String, _ name: String) throws -> String {
        guard let normalized = AuditTime.normalize(text) else {
            throw RPCError.invalidParams("param '\(name)' must be an RFC 3339 date-time")
        }
        return normalized
    }
}

/// Runs its callers' work one at a time, in the order they came.
actor Turnstile {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ work: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await work()
    }
}
