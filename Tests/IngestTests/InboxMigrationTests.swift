import Foundation
import GRDB
import LeadlineStorage
import Testing

@testable import IngestCore

/// ingest-v3 rebuilds the inbox keyed by leadgen id, and ingest-v4 makes its state indexes partial:
/// a database written before keeps every row, its state and its place in the retrieval queue.
@Suite struct InboxMigrationTests {
    @Test func anInboxWrittenBeforeTheRebuildKeepsEveryRow() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("inbox-v3-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ingest.sqlite").path
        let previous = Array(IngestSchema.migrations.prefix { $0.name != "ingest-v3-inbox-keyed-by-leadgen-id" })
        #expect(previous.count == IngestSchema.migrations.count - 2)

        let before = try Storage(path: path, migrations: previous)
        try await before.write { db in
            for (index, state) in ["received", "ready", "handedOff", "failed"].enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO inbox (leadgen_id, lead_id, page_id, form_id, ad_id, adgroup_id, created_time,
                            received_at, state, attempts, next_attempt_at)
                        VALUES (?, ?, ?, ?, ?, ?, 1700000000, ?, ?, ?, ?)
                        """,
                    arguments: [
                        "90000000000000\(index)", "ld_\(index)", "page-\(index)", index == 3 ? nil : "form-\(index)",
                        "ad-\(index)", "adset-\(index)", "2026-12-01T00:00:0\(index)Z", state, index,
                        Double(index) * 1.5,
                    ])
            }
        }
        try before.close()

        let after = try Storage(path: path, migrations: IngestSchema.migrations)
        defer { try? after.close() }
        let (rows, definition, plan, failedPlan, dueIndex) = try await after.read { db in
            (
                try Row.fetchAll(db, sql: "SELECT * FROM inbox ORDER BY leadgen_id").map { row -> [String] in
                    [
                        row["leadgen_id"], row["lead_id"], row["page_id"], (row["form_id"] as String?) ?? "nil",
                        row["ad_id"], row["adgroup_id"], String(row["created_time"] as Int), row["received_at"],
                        row["state"], String(row["attempts"] as Int), String(row["next_attempt_at"] as Double),
                    ]
                },
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'inbox'") ?? "",
                try Row.fetchAll(
                    db,
                    sql: """
                        EXPLAIN QUERY PLAN SELECT * FROM inbox WHERE state = 'received' AND next_attempt_at <= 1e12
                        ORDER BY next_attempt_at, received_at LIMIT 16
                        """
                ).map { $0["detail"] as String },
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT count(*) FROM inbox WHERE state = 'failed'")
                    .map { $0["detail"] as String },
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'inbox_due'") ?? ""
            )
        }
        // ingest-v4: the due index holds waiting rows only, and counting failed ones scans no table.
        #expect(dueIndex.contains("WHERE state = 'received'"), "\(dueIndex)")
        #expect(failedPlan.contains { $0.contains("inbox_failed") }, "\(failedPlan)")
        #expect(definition.contains("WITHOUT ROWID"))
        #expect(
            rows
                == (0..<4).map { index in
                    [
                        "90000000000000\(index)", "ld_\(index)", "page-\(index)", index == 3 ? "nil" : "form-\(index)",
                        "ad-\(index)", "adset-\(index)", "1700000000", "2026-12-01T00:00:0\(index)Z",
                        ["received", "ready", "handedOff", "failed"][index], "\(index)", "\(Double(index) * 1.5)",
                    ]
                })
        #expect(plan.contains { $0.contains("inbox_due") }, "\(plan)")
        #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")

        // A repeated leadgen id is still ignored, and a lead id stays unique.
        let inserted = try await after.write { db -> [Int] in
            let changes = [
                LeadgenChange(
                    leadgenID: "900000000000000", pageID: "777", formID: "form-1", adID: nil, adgroupID: nil,
                    createdTime: 1_700_000_000),
                LeadgenChange(
                    leadgenID: "900000000000009", pageID: "777", formID: "form-1", adID: nil, adgroupID: nil,
                    createdTime: 1_700_000_001),
            ]
            let new = try IngestStore.insertChanges(
                changes.map { ($0, LeadID.make()) }, receivedAt: "2026-12-01T00:00:09Z", state: "received", db: db)
            return [new.count, try Int.fetchOne(db, sql: "SELECT count(*) FROM inbox") ?? 0]
        }
        #expect(inserted == [1, 5])
        await #expect(throws: DatabaseError.self) {
            try await after.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO inbox (leadgen_id, lead_id, page_id, received_at, state)
                        VALUES ('900000000000010', 'ld_0', '777', '2026-12-01T00:00:10Z', 'received')
                        """)
            }
        }
    }
}
