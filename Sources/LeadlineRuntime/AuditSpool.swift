import Foundation
import GRDB
import LeadlineRPC
import LeadlineStorage
import Logging
import ServiceLifecycle

/// One audit event as a daemon records it. The audit daemon adds `seq`, the actor (from the
/// caller's credentials) and the hash chain. `details` must never hold a secret value, and
/// personal data only as a keyed hash.
public struct AuditEvent: Codable, Sendable, Hashable {
    public var time: String
    public var action: String
    public var subject: String
    public var outcome: String
    public var details: [String: JSONValue]?

    public init(
        action: String, subject: String, outcome: String, details: [String: JSONValue]? = nil, time: Date = Date()
    ) {
        self.time = AuditEvent.timestamp(time)
        self.action = action
        self.subject = subject
        self.outcome = outcome
        self.details = details
    }

    public static func timestamp(_ date: Date) -> String {
        RFC3339.format(date)
    }

    /// The spooled form: the same JSON Codable gives (absent details left out), written
    /// directly; every outcome of every delivery spools one.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "time": .string(time), "action": .string(action), "subject": .string(subject), "outcome": .string(outcome),
        ]
        if let details { members["details"] = .object(details) }
        return .object(members)
    }
}

/// The durable outbox for audit events: every daemon writes its events into its own database
/// (in the same transaction as the change they describe, when there is one) and a background
/// loop forwards them to leadline-audit in order. The audit daemon being down, stopped or
/// restarting delays events; it never loses them or changes their time and order.
public final class AuditSpool: Sendable {
    public static let migration = Storage.Migration("audit-spool-v1") { db in
        try db.execute(
            sql: "CREATE TABLE audit_spool (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)")
    }

    /// The database's random spool id. With the row id (AUTOINCREMENT) it names each event, so the
    /// audit daemon recognizes a batch sent twice. Since ``runIdentityMigration`` it names only
    /// rows spooled before that migration; newer rows carry their run's id.
    public static let identityMigration = Storage.Migration("audit-spool-identity-v1") { db in
        try db.execute(sql: "CREATE TABLE audit_spool_identity (id TEXT NOT NULL)")
        try db.execute(
            sql: "INSERT INTO audit_spool_identity (id) VALUES (?)", arguments: [UUID().uuidString.lowercased()])
    }

    /// The spool id each event is sent under, made anew by every process that spools. With one id
    /// per database, a database restored from a backup reused row ids the audit daemon had
    /// already seen from it, and every event spooled after the restore was skipped as a resend
    /// until the ids passed the old high mark. Rows from before this column use the database's id.
    public static let runIdentityMigration = Storage.Migration("audit-spool-run-identity-v1") { db in
        try db.execute(sql: "ALTER TABLE audit_spool ADD COLUMN spool_id TEXT")
    }

    /// Events the audit daemon refused as invalid: kept, never resent, counted in service.info
    /// (`auditRejected`), so one bad event cannot hold back every event after it.
    public static let rejectedMigration = Storage.Migration("audit-spool-rejected-v1") { db in
        try db.execute(
            sql: """
                CREATE TABLE audit_spool_rejected (
                    id INTEGER PRIMARY KEY, event TEXT NOT NULL, reason TEXT NOT NULL, rejected_at TEXT NOT NULL)
                """)
    }

    /// A spooling daemon's migrations: the spool's table first, the daemon's own, then the spool's
    /// later changes, after the daemon's so that databases made before them keep their order of
    /// applied migrations.
    public static func migrations(around own: [Storage.Migration]) -> [Storage.Migration] {
        [migration] + own + [identityMigration, rejectedMigration, runIdentityMigration]
    }

    /// Refusals that no resend can change: the event itself is wrong.
    static let refusalNames: Set<String> = ["InvalidParams", "ValidationFailed", "TooLarge"]

    private let storage: Storage
    private let client: RPCClient
    private let logger: Logger
    public let wakeup = Wakeup()
    /// This process's spool id (see ``runIdentityMigration``).
    let runIdentity = UUID().uuidString.lowercased()

    public init(storage: Storage, client: RPCClient, logger: Logger) {
        self.storage = storage
        self.client = client
        self.logger = logger
    }

    /// Spools inside the caller's transaction: the event exists exactly when the change does.
    public func record(_ events: [AuditEvent], in db: Database) throws {
        try record(encoded: try Self.encode(events), in: db)
    }

    /// The spooled form of events: encoded before a transaction, so the encoding does not hold
    /// up the one writer every other commit waits for.
    public static func encode(_ events: [AuditEvent]) throws -> [String] {
        events.map { String(decoding: JSONValueWriter.bytes($0.json), as: UTF8.self) }
    }

    /// Spools events `encode(_:)` made, inside the caller's transaction.
    public func record(encoded events: [String], in db: Database) throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO audit_spool (event, spool_id) VALUES (?, ?)")
        for text in events { try insert.execute(arguments: [text, runIdentity]) }
        wakeup.signal()
    }

    /// Spools on its own (shares an fsync with concurrent writers).
    public func record(_ events: [AuditEvent]) async {
        do {
            try await storage.groupedWrite { db in try self.record(events, in: db) }
        } catch {
            logger.error("cannot spool audit events", metadata: ["error": "\(type(of: error))"])
        }
    }

    public func record(_ event: AuditEvent) async {
        await record([event])
    }

    public func rejectedCount() async -> Int {
        (try? await storage.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_spool_rejected") ?? 0
        }) ?? -1
    }

    public func depth() async -> Int {
        (try? await storage.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_spool") ?? 0 }) ?? -1
    }

    /// Forwards one batch; true when more may be waiting.
    func forwardBatch() async -> Bool {
        let batch: [(Int64, JSONValue)]
        do {
            batch = try await storage.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, event, coalesce(spool_id, (SELECT id FROM audit_spool_identity)) AS spool_id
                        FROM audit_spool ORDER BY id LIMIT 500
                        """)
                return try rows.map { row in
                    let text: String = row["event"]
                    let id: Int64 = row["id"]
                    // If the answer to this append is lost (either side killed), the batch is sent
                    // again: spoolId and spoolSeq let the audit daemon skip what it already has.
                    guard case .object(var event) = try JSONCoding.parse(Array(text.utf8)) else {
                        throw RuntimeError("a spooled audit event is not an object")
                    }
                    if let spoolID: String = row["spool_id"] {
                        event["spoolId"] = .string(spoolID)
                        event["spoolSeq"] = .int(id)
                    }
                    return (id, .object(event))
                }
            }
        } catch {
            logger.error("cannot read the audit spool", metadata: ["error": "\(type(of: error))"])
            return false
        }
        guard let last = batch.last?.0 else { return false }
        do {
            _ = try await client.call("audit.append", params: .object(["events": .array(batch.map(\.1))]))
            try await storage.write { db in
                try db.execute(sql: "DELETE FROM audit_spool WHERE id <= ?", arguments: [last])
            }
            return batch.count == 500
        } catch let error as RPCError where Self.refusalNames.contains(error.name) {
            // One invalid event refuses the whole batch: find it alone, set it aside, send the rest.
            return await sendOneByOne(batch)
        } catch {
            logger.debug("audit daemon unreachable; events stay spooled", metadata: ["error": "\(error)"])
            // A pause so a burst of new events does not retry at once; cut short by shutdown, which
            // otherwise waited it out while the audit daemon was down.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
            return false
        }
    }

    private func sendOneByOne(_ batch: [(Int64, JSONValue)]) async -> Bool {
        for (id, event) in batch {
            var refusal: RPCError?
            do {
                _ = try await client.call("audit.append", params: .object(["events": .array([event])]))
            } catch let error as RPCError where Self.refusalNames.contains(error.name) {
                refusal = error
            } catch {
                return false
            }
            let refused = refusal
            do {
                try await storage.write { db in
                    if let refusal = refused {
                        try db.execute(
                            sql: """
                                INSERT INTO audit_spool_rejected (id, event, reason, rejected_at)
                                SELECT id, event, ?, ? FROM audit_spool WHERE id = ?
                                """, arguments: [refusal.detail, AuditEvent.timestamp(Date()), id])
                    }
                    try db.execute(sql: "DELETE FROM audit_spool WHERE id = ?", arguments: [id])
                }
            } catch {
                logger.error("cannot update the audit spool", metadata: ["error": "\(type(of: error))"])
                return false
            }
            if let refusal {
                logger.error(
                    "the audit daemon refused a spooled event; it is kept in audit_spool_rejected",
                    metadata: ["spoolSeq": "\(id)", "reason": "\(refusal.name)"])
            }
        }
        return true
    }

    public func forwarder() -> BackgroundLoop {
        BackgroundLoop(name: "audit-forwarder", interval: .seconds(5), wakeup: wakeup, logger: logger) {
            await self.forwardBatch()
        }
    }
}
