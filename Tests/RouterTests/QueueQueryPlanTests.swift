import Foundation
import GRDB
import LeadlineStorage
import Testing

@testable import RouterCore

/// The delivery worker's queue queries read about as many rows as they return, whatever the
/// backlog: SQLite's own plan says so (no scan of deliveries, no sort), on a real router database
/// with a backlog in it. Checked through the plan rather than a timing, which a shared machine
/// would make flaky.
@Suite struct QueueQueryPlanTests {
    @Test func claimingSeeksTheQueueIndexAndNeverSorts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("queue-plan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let storage = try Storage(
            path: directory.appendingPathComponent("router.sqlite").path, migrations: RouterSchema.migrations)
        defer { try? storage.close() }
        try await storage.write { db in
            for index in 0..<2000 {
                try db.execute(
                    sql: "INSERT INTO leads (id, payload, received_at) VALUES (?, '{}', 0)", arguments: ["ld_\(index)"])
                try db.execute(
                    sql: """
                        INSERT INTO deliveries (id, lead_id, destination_id, route_id, field_map, state,
                            next_attempt_at, deadline_at, created_at, updated_at)
                        VALUES (?, ?, ?, 'route', '{}', ?, ?, 1e12, 0, 0)
                        """,
                    arguments: [
                        "dl_\(index)", "ld_\(index)", "dest-\(index % 4)",
                        ["pending", "retrying", "delivered", "dead"][index % 4], Double(index),
                    ])
            }
        }
        let plans = try await storage.read { db in
            let queries: [(sql: String, arguments: StatementArguments)] = [
                (QueueSQL.queuedDestinations, []), (QueueSQL.countDue, ["dest-1", 1e9, 16]),
                (QueueSQL.claimDue, ["dest-1", 1e9, 16]),
            ]
            return try queries.map { sql, arguments in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map {
                    $0["detail"] as String
                }
            }
        }
        for plan in plans {
            #expect(plan.contains { $0.contains("deliveries_queue") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN d") || $0.hasPrefix("SCAN deliveries") }, "\(plan)")
        }

        // And they answer what the backlog holds: two destinations have queued rows
        // (pending for index % 4 == 0, retrying for 1), in claim order.
        let (destinations, due, claimed) = try await storage.read { db in
            (
                try String.fetchAll(db, sql: QueueSQL.queuedDestinations),
                try Int.fetchOne(db, sql: QueueSQL.countDue, arguments: ["dest-1", 1e9, 100]),
                try String.fetchAll(db, sql: QueueSQL.claimDue, arguments: ["dest-0", 10.5, 5])
            )
        }
        #expect(destinations == ["dest-0", "dest-1"])
        #expect(due == 100)
        #expect(claimed == ["dl_0", "dl_4", "dl_8"])
    }
}
