import Foundation
import GRDB
import LeadlineStorage
import Testing

@testable import IngestCore

/// Reconciliation reads each form's leads since the newest created_time seen on it: the mark
/// only moves forward, follows the form's page, and a duplicate change does not move it.
@Suite struct FormWatermarkTests {
    @Test func theNewestCreatedTimeOnlyMovesForward() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("forms-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let storage = try Storage(
            path: directory.appendingPathComponent("ingest.sqlite").path, migrations: IngestSchema.migrations)
        defer { try? storage.close() }

        func receive(_ id: String, page: String = "777", form: String = "form-1", at time: Int64?) async throws
            -> [String]
        {
            try await storage.write { db in
                let change = LeadgenChange(
                    leadgenID: id, pageID: page, formID: form, adID: nil, adgroupID: nil, createdTime: time)
                _ = try IngestStore.insertChanges(
                    [(change, LeadID.make())], receivedAt: "2026-12-01T00:00:00Z", state: "received", db: db)
                return try Row.fetchAll(db, sql: "SELECT * FROM forms WHERE form_id = ?", arguments: [form]).map {
                    "\($0["page_id"] as String) \(($0["last_created_time"] as Int64?).map(String.init) ?? "nil")"
                }
            }
        }

        #expect(try await receive("1", at: 100) == ["777 100"])
        #expect(try await receive("2", at: 100) == ["777 100"])
        #expect(try await receive("3", at: 90) == ["777 100"])
        #expect(try await receive("4", at: 120) == ["777 120"])
        #expect(try await receive("5", at: nil) == ["777 120"])
        #expect(try await receive("6", page: "888", at: 110) == ["888 120"])
        // Meta resending a change: the inbox keeps its first row, and the form is not touched.
        #expect(try await receive("4", page: "999", at: 500) == ["888 120"])
        #expect(try await receive("7", form: "form-2", at: nil) == ["777 nil"])
        #expect(try await receive("8", form: "form-2", at: 5) == ["777 5"])
    }
}
