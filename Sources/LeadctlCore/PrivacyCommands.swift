import ArgumentParser
import Foundation
import LeadlineRPC

struct PrivacyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacy", abstract: "Data-subject requests: export and erase a person's data; retention.",
        subcommands: [Export.self, Erase.self, PrivacyRetention.self])

    struct Subject: ParsableArguments {
        @Option(help: "The person's email address.") var email: String?
        @Option(help: "The person's phone number.") var phone: String?
        @Option(name: .customLong("lead"), help: "A lead id (repeatable).") var leads: [String] = []

        func validate() throws {
            guard email != nil || phone != nil || !leads.isEmpty else {
                throw ValidationError("name the person: --email, --phone or --lead")
            }
        }

        /// Every lead id held for the person, found through ingest's index.
        func leadIDs(_ connection: Connection) async throws -> [String] {
            var ids = Set(leads)
            if email != nil || phone != nil {
                var params: [String: JSONValue] = [:]
                if let email { params["email"] = .string(email) }
                if let phone { params["phone"] = .string(phone) }
                let found = try await connection.call("ingest", "ingest.findLeads", .object(params))
                for lead in found["items"]?.arrayValue ?? [] {
                    if let id = lead["id"]?.stringValue { ids.insert(id) }
                }
            }
            return ids.sorted()
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Everything held about a person, across ingest, router and audit, as one JSON document.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var subject: Subject

        func run() async throws {
            let connection = try global.connection()
            let ids = try await subject.leadIDs(connection)
            var leads: [JSONValue] = []
            var deliveries: [JSONValue] = []
            var events: [JSONValue] = []
            for id in ids {
                if let lead = try? await connection.call("ingest", "ingest.getLead", ["id": .string(id)]) {
                    leads.append(lead)
                }
                let held = try await connection.call(
                    "router", "router.listDeliveries", ["leadId": .string(id), "limit": 1000])
                deliveries += held["items"]?.arrayValue ?? []
                let audited = try await connection.call(
                    "audit", "audit.query", ["subject": .string(id), "limit": 1000])
                events += audited["items"]?.arrayValue ?? []
            }
            var style = Date.ISO8601FormatStyle()
            style.timeZone = .gmt
            Output.printJSON([
                "exportedAt": .string(Date().formatted(style)), "leadIds": .array(ids.map { .string($0) }),
                "leads": .array(leads), "deliveries": .array(deliveries), "auditEvents": .array(events),
            ])
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "erase",
            abstract: "Remove a person's personal data from ingest and router; keep non-personal delivery facts.",
            discussion: """
                Erases in the router first, then in ingest (whose index finds the person), so an
                interrupted erase is finished by running the same command again. Each daemon
                records its own audit events, which carry the receipt id. Prints the receipt.
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var subject: Subject

        func run() async throws {
            let connection = try global.connection()
            let ids = try await subject.leadIDs(connection)
            let receipt = UUID().uuidString.lowercased()
            var routerErased: Int64 = 0
            var ingestErased: Int64 = 0
            if !ids.isEmpty {
                let leadIds = JSONValue.array(ids.map { .string($0) })
                let router = try await connection.call(
                    "router", "router.eraseLeads", ["leadIds": leadIds, "receipt": .string(receipt)])
                routerErased = router["erased"]?.intValue ?? 0
                let ingest = try await connection.call(
                    "ingest", "ingest.eraseLeads", ["ids": leadIds, "receipt": .string(receipt)])
                ingestErased = ingest["erased"]?.intValue ?? 0
            }
            var style = Date.ISO8601FormatStyle()
            style.timeZone = .gmt
            let document: JSONValue = [
                "receipt": .string(receipt), "erasedAt": .string(Date().formatted(style)),
                "leadIds": .array(ids.map { .string($0) }), "ingestErased": .int(ingestErased),
                "routerErased": .int(routerErased),
            ]
            if global.json { return Output.printJSON(document) }
            print(
                "erasure receipt \(receipt): \(ids.count) leads; ingest erased \(ingestErased), router erased \(routerErased)"
            )
            if ids.isEmpty { print("nothing held for that person (already erased, or never received)") }
        }
    }
}
