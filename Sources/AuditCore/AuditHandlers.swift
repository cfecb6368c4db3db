import Foundation
import LeadlineRPC
import LeadlineRuntime

/// Wires the audit.* methods to the ledger.
enum AuditHandlers {
    static func register(into table: inout RPCMethodTable, ledger: AuditLedger) {
        table.register(AppendEvents.self, .anyOf([.anyService, .admin])) { params, call in
            try await storageErrors(ledger) { try await ledger.append(params.events, actor: call.caller.actor) }
        }
        table.register(QueryEvents.self, .admin) { params, _ in
            let filter = AuditLedger.Filter(
                since: params.since, until: params.until, action: params.action, subject: params.subject,
                actor: params.actor)
            let page = try await storageErrors(ledger) {
                try await ledger.page(filter, cursor: params.cursor, limit: params.limit ?? 100)
            }
            return QueryEvents.Result(
                items: page.items,
                nextCursor: page.more ? page.items.last.map { AuditLedger.encodeCursor(after: $0.seq) } : nil)
        }
        table.register(ExportEvents.self, .admin) { params, _ in
            let page = try await storageErrors(ledger) {
                try await ledger.page(
                    AuditLedger.Filter(since: params.since), cursor: params.cursor, limit: params.limit ?? 1000)
            }
            var text = ""
            for item in page.items {
                text += String(decoding: try JSONCoding.encode(item), as: UTF8.self)
                text += "\n"
            }
            return ExportEvents.Result(
                format: "jsonl", lines: page.items.count, data: text,
                nextCursor: page.more ? page.items.last.map { AuditLedger.encodeCursor(after: $0.seq) } : nil)
        }
        table.register(VerifyChain.self, .admin) { _, _ in
            try await storageErrors(ledger) { try await ledger.verify() }
        }
        table.register(LatestCheckpoint.self, .admin) { _, _ in
            try await storageErrors(ledger) { try await ledger.latestCheckpoint() }
        }
    }

    /// Database errors become StorageFailure, reported by type only (their text may quote values).
    static func storageErrors<T: Sendable>(_ ledger: AuditLedger, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RPCError {
            throw error
        } catch {
            ledger.logger.error("audit storage failed", metadata: ["error": "\(type(of: error))"])
            throw RPCError.storageFailure("the audit database could not be read or written; see the journal")
        }
    }
}
