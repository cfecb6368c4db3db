import Foundation
import GRDB
import LeadlineRPC

/// One row of `secrets`, still sealed.
struct StoredSecret: Sendable {
    var name: String
    var version: Int
    var kind: String
    var readers: [String]
    var expiresAt: String?
    var metadata: [String: String]?
    var createdAt: String
    var updatedAt: String
    var keyVersion: Int
    var sealed: Data

    init(row: Row) throws {
        name = row["name"]
        version = row["version"]
        kind = row["kind"]
        readers = try JSONCoding.decode([String].self, from: (row["readers"] as String).utf8)
        expiresAt = row["expiresAt"]
        if let text: String = row["metadata"] {
            metadata = try JSONCoding.decode([String: String].self, from: text.utf8)
        }
        createdAt = row["createdAt"]
        updatedAt = row["updatedAt"]
        keyVersion = row["keyVersion"]
        sealed = row["sealed"]
    }

    static func fetch(_ name: String, in db: Database) throws -> StoredSecret? {
        try Row.fetchOne(db, sql: "SELECT * FROM secrets WHERE name = ?", arguments: [name]).map(
            StoredSecret.init(row:))
    }

    static func encode(readers: [String]) -> String {
        String(decoding: (try? JSONCoding.encode(readers.sorted())) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func encode(metadata: [String: String]?) -> String? {
        guard let metadata else { return nil }
        return String(decoding: (try? JSONCoding.encode(metadata)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
