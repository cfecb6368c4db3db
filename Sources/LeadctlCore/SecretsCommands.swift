import ArgumentParser
import Foundation
import LeadlineRPC

struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Manage the vault's secrets (tokens, app secrets, signing keys).",
        discussion: """
            Values are read from standard input or a prompt that does not echo, never from the
            command line. Listing shows metadata only; values are never printed except by 'get'.
            """,
        subcommands: [Put.self, Update.self, Get.self, List.self, Remove.self, RotateKey.self, Status.self])

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "put", abstract: "Store a secret (creates it or replaces its value).",
            discussion: """
                EXAMPLES
                  leadctl secrets put meta/app-secret --reader ingest
                  printf %s "$TOKEN" | leadctl secrets put hubspot/main --reader router --kind hubspot-token
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Secret name, e.g. meta/page/1234567890.") var name: String
        @Option(
            name: .customLong("reader"),
            help: "A service allowed to read it (repeatable): ingest, router, vault, audit.")
        var readers: [String] = []
        @Option(help: "Kind, e.g. meta-page-token, hubspot-token, salesforce-oauth, webhook-signing-secret.")
        var kind: String?
        @Option(help: "Expiry as an RFC 3339 time, e.g. 2027-01-31T00:00:00Z.") var expiresAt: String?

        func validate() throws {
            guard !readers.isEmpty else {
                throw ValidationError("name at least one --reader (ingest, router, vault, audit)")
            }
        }

        func run() async throws {
            let value = try SecretInput.read(prompt: "value for \(name): ")
            var params: [String: JSONValue] = [
                "name": .string(name), "value": .string(value), "readers": .array(readers.map { .string($0) }),
            ]
            if let kind { params["kind"] = .string(kind) }
            if let expiresAt { params["expiresAt"] = .string(expiresAt) }
            let result = try await global.connection().call("vault", "vault.putSecret", .object(params))
            if global.json { return Output.printJSON(result) }
            print("stored \(name) version \(Output.text(result["version"]))")
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "update", abstract: "Replace a secret's value only if it is still at the version you read.",
            discussion: """
                A compare-and-swap: if anyone (a daemon refreshing an OAuth token, another admin)
                changed the secret since you read version N, nothing is written and leadctl exits 1
                with Conflict; read it again (secrets list shows versions) and retry. Readers and
                kind are kept.

                EXAMPLES
                  printf %s "$NEW_TOKEN" | leadctl secrets update hubspot/main --expected-version 3
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Secret name.") var name: String
        @Option(help: "The version the new value replaces (from secrets list).") var expectedVersion: Int
        @Option(help: "New expiry as an RFC 3339 time.") var expiresAt: String?

        func run() async throws {
            let value = try SecretInput.read(prompt: "new value for \(name): ")
            var params: [String: JSONValue] = [
                "name": .string(name), "value": .string(value), "expectedVersion": .int(Int64(expectedVersion)),
            ]
            if let expiresAt { params["expiresAt"] = .string(expiresAt) }
            let result = try await global.connection().call("vault", "vault.updateSecret", .object(params))
            if global.json { return Output.printJSON(result) }
            print("updated \(name) to version \(Output.text(result["version"]))")
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get", abstract: "Print a secret's value (only for a caller the secret lists as a reader).")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let result = try await global.connection().call("vault", "vault.getSecret", ["name": .string(name)])
            if global.json { return Output.printJSON(result) }
            print(Output.text(result["value"]))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List secrets (never values).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let result = try await global.connection().call("vault", "vault.listSecrets", [:])
            if global.json { return Output.printJSON(result) }
            let rows = (result["items"]?.arrayValue ?? []).map { item in
                [
                    Output.text(item["name"]), Output.text(item["kind"]), Output.text(item["version"]),
                    (item["readers"]?.arrayValue ?? []).map { Output.text($0) }.joined(separator: ","),
                    Output.text(item["expiresAt"]), Output.text(item["updatedAt"]),
                ]
            }
            print(Output.table(["NAME", "KIND", "VERSION", "READERS", "EXPIRES", "UPDATED"], rows))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete a secret and every stored version of it.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let result = try await global.connection().call("vault", "vault.deleteSecret", ["name": .string(name)])
            if global.json { return Output.printJSON(result) }
            print("deleted \(name)")
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key", abstract: "Add a data-key version and re-encrypt every secret with it, online.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let result = try await global.connection().call("vault", "vault.rotateKey", [:])
            if global.json { return Output.printJSON(result) }
            print(
                "key version \(Output.text(result["keyVersion"])), \(Output.text(result["reencrypted"])) secrets re-encrypted"
            )
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Key version, counts, and secrets expired or expiring soon.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Warn about secrets expiring within this many days.") var days: Int = 7

        func run() async throws {
            let result = try await global.connection().call(
                "vault", "vault.status", ["expiringWithinDays": .int(Int64(days))])
            if global.json { return Output.printJSON(result) }
            print("key version \(Output.text(result["keyVersion"])), \(Output.text(result["secrets"])) secrets")
            for (label, key) in [("EXPIRED", "expired"), ("expiring", "expiringSoon")] {
                for item in result[key]?.arrayValue ?? [] {
                    print("\(label): \(Output.text(item["name"])) at \(Output.text(item["expiresAt"]))")
                }
            }
        }
    }
}
