import ArgumentParser
import Foundation
import LeadlineRPC

/// Parses `key=value` options into a JSON object (values that parse as JSON keep their type).
func keyValues(_ pairs: [String], option: String) throws -> [String: JSONValue] {
    var object: [String: JSONValue] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "=") else {
            throw ValidationError("--\(option) takes key=value, got '\(pair)'")
        }
        let key = String(pair[..<equals])
        let raw = String(pair[pair.index(after: equals)...])
        object[key] =
            (try? JSONCoding.parse(Array(raw.utf8))).flatMap { $0.objectValue == nil ? $0 : nil } ?? .string(raw)
    }
    return object
}

struct DestinationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destinations", abstract: "CRM destinations: HubSpot, Salesforce, Pipedrive, webhook.",
        subcommands: [Add.self, List.self, Remove.self, Test.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add or replace a destination.",
            discussion: """
                The credential is the NAME of a vault secret (readers: router), never the token.

                EXAMPLES
                  leadctl destinations add crm --kind hubspot --credential hubspot/main
                  leadctl destinations add sf --kind salesforce --credential salesforce/oauth \\
                      --option externalIdField=Leadline_Id__c --option apiVersion=v62.0
                  leadctl destinations add hook --kind webhook --credential hooks/secret --option url=https://example.com/leads
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Destination id.") var id: String
        @Option(help: "hubspot, salesforce, pipedrive or webhook.") var kind: String
        @Option(help: "Vault secret name holding the CRM credential.") var credential: String
        @Option(help: "API base URL (default: the vendor's public API).") var baseUrl: String?
        @Option(name: .customLong("option"), help: "Connector option key=value (repeatable).") var options: [String] =
            []

        func run() async throws {
            var params: [String: JSONValue] = [
                "id": .string(id), "kind": .string(kind), "credential": .string(credential),
            ]
            if let baseUrl { params["baseUrl"] = .string(baseUrl) }
            if !options.isEmpty { params["options"] = .object(try keyValues(options, option: "option")) }
            let result = try await global.connection().call("router", "router.putDestination", .object(params))
            if global.json { return Output.printJSON(result) }
            print("destination \(id) (\(kind)) saved")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List destinations.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let result = try await global.connection().call("router", "router.listDestinations", [:])
            if global.json { return Output.printJSON(result) }
            let rows = (result["items"]?.arrayValue ?? []).map {
                [
                    Output.text($0["id"]), Output.text($0["kind"]), Output.text($0["baseUrl"]),
                    Output.text($0["credential"]),
                ]
            }
            print(Output.table(["ID", "KIND", "BASE URL", "CREDENTIAL"], rows))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove a destination no route uses any more.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let result = try await global.connection().call("router", "router.deleteDestination", ["id": .string(id)])
            if global.json { return Output.printJSON(result) }
            print("destination \(id) removed")
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test", abstract: "Check that the destination's credential works (no lead is written).")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let result = try await global.connection().call("router", "router.testDestination", ["id": .string(id)])
            if global.json {
                Output.printJSON(result)
            } else {
                let verdict = result["ok"] == true ? "ok" : "FAILED"
                print(
                    "\(id): \(verdict) (HTTP \(Output.text(result["httpStatus"])), \(Output.text(result["latencyMs"])) ms) \(Output.text(result["detail"]))"
                )
            }
            if result["ok"] != true { throw ExitCode(1) }
        }
    }
}

struct RoutesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes", abstract: "Routes: which leads go to which destination, with which field map.",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add or replace a route.",
            discussion: """
                --map takes CRM_FIELD=SOURCE where SOURCE is a lead field path (email, firstName,
                custom.budget), a template ("{{firstName}} {{lastName}}") or a JSON constant
                ({"const":"Facebook"}). No --match means every lead.

                EXAMPLE
                  leadctl routes add fb-to-hubspot --destination crm --match formId=12312312312 \\
                      --map email=email --map firstname=firstName --map lastname=lastName
                """)
        @OptionGroup var global: GlobalOptions
        @Argument var id: String
        @Option(help: "Destination id.") var destination: String
        @Option(name: .customLong("match"), help: "platform=, pageId= or formId= (repeatable).") var match: [String] =
            []
        @Option(name: .customLong("map"), help: "CRM_FIELD=SOURCE (repeatable).") var map: [String] = []
        @Flag(help: "Save the route disabled.") var disabled = false

        func run() async throws {
            var fieldMap: [String: JSONValue] = [:]
            for pair in map {
                guard let equals = pair.firstIndex(of: "=") else {
                    throw ValidationError("--map takes CRM_FIELD=SOURCE")
                }
                let source = String(pair[pair.index(after: equals)...])
                let parsed = try? JSONCoding.parse(Array(source.utf8))
                fieldMap[String(pair[..<equals])] = parsed?.objectValue != nil ? parsed! : .string(source)
            }
            var matchObject: [String: JSONValue] = [:]
            for (key, value) in try keyValues(match, option: "match") { matchObject[key] = .string(Output.text(value)) }
            let params: JSONValue = [
                "id": .string(id), "destinationId": .string(destination), "match": .object(matchObject),
                "fieldMap": .object(fieldMap), "enabled": .bool(!disabled),
            ]
            let result = try await global.connection().call("router", "router.putRoute", params)
            if global.json { return Output.printJSON(result) }
            print("route \(id) -> \(destination) saved")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List routes.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let result = try await global.connection().call("router", "router.listRoutes", [:])
            if global.json { return Output.printJSON(result) }
            let rows = (result["items"]?.arrayValue ?? []).map {
                [
                    Output.text($0["id"]), Output.text($0["destinationId"]), Output.text($0["match"]),
                    Output.text($0["enabled"]), "\($0["fieldMap"]?.objectValue?.count ?? 0) fields",
                ]
            }
            print(Output.table(["ID", "DESTINATION", "MATCH", "ENABLED", "FIELD MAP"], rows))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a route.")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            let result = try await global.connection().call("router", "router.deleteRoute", ["id": .string(id)])
            if global.json { return Output.printJSON(result) }
            print("route \(id) removed")
        }
    }
}

struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries", abstract: "Delivery jobs: where each lead went, attempts, dead letters.",
        subcommands: [List.self, Retry.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List deliveries, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "pending, inflight, retrying, delivered or dead.") var state: String?
        @Option(name: .customLong("lead"), help: "Only this lead's deliveries.") var leadId: String?
        @Option(help: "At most this many.") var limit: Int = 50

        func run() async throws {
            var params: [String: JSONValue] = ["limit": .int(Int64(limit))]
            if let state { params["state"] = .string(state) }
            if let leadId { params["leadId"] = .string(leadId) }
            let result = try await global.connection().call("router", "router.listDeliveries", .object(params))
            if global.json { return Output.printJSON(result) }
            let rows = (result["items"]?.arrayValue ?? []).map {
                [
                    Output.text($0["id"]), Output.text($0["leadId"]), Output.text($0["destinationId"]),
                    Output.text($0["state"]), Output.text($0["attempts"]), Output.text($0["crmRecordId"]),
                    Output.text($0["lastError"]),
                ]
            }
            print(
                Output.table(
                    ["DELIVERY", "LEAD", "DESTINATION", "STATE", "ATTEMPTS", "CRM RECORD", "LAST ERROR"], rows))
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry", abstract: "Requeue dead (or retrying) deliveries now.",
            discussion: "EXAMPLES\n  leadctl deliveries retry 3f2a...\n  leadctl deliveries retry --dead")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Delivery ids.") var ids: [String] = []
        @Flag(help: "Every dead delivery.") var dead = false

        func validate() throws {
            guard dead != !ids.isEmpty else { throw ValidationError("give delivery ids or --dead (not both)") }
        }

        func run() async throws {
            let connection = try global.connection()
            var params: [String: JSONValue] = [:]
            if dead {
                params["state"] = "dead"
            } else {
                params["ids"] = .array(ids.map { .string($0) })
            }
            let result = try await connection.call("router", "router.retryDeliveries", .object(params))
            let requeued = Int(result["requeued"]?.intValue ?? 0)
            if global.json { return Output.printJSON(result) }
            print("requeued \(requeued) deliveries")
            guard requeued > 0, isatty(2) != 0 else { return }
            // Follow the requeued jobs until none is waiting, as a progress bar.
            for _ in 0..<600 {
                let stats = try await connection.call("router", "router.stats", [:])
                let waiting = ["pending", "inflight", "retrying"].reduce(0) {
                    $0 + Int(stats["deliveries"]?[$1]?.intValue ?? 0)
                }
                Output.progress(max(0, requeued - waiting), of: requeued, label: "delivering")
                if waiting == 0 { break }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
