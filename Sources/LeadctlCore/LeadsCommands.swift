import ArgumentParser
import Crypto
import Foundation
import LeadlineHTTP
import LeadlineRPC

struct LeadsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leads", abstract: "Leads held by the ingest daemon.",
        subcommands: [List.self, Show.self, Submit.self, HandOff.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List leads, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only leads of this form.") var form: String?
        @Option(help: "Only leads received since this RFC 3339 time.") var since: String?
        @Option(help: "At most this many.") var limit: Int = 50

        func run() async throws {
            var params: [String: JSONValue] = ["limit": .int(Int64(limit))]
            if let form { params["formId"] = .string(form) }
            if let since { params["since"] = .string(since) }
            let result = try await global.connection().call("ingest", "ingest.listLeads", .object(params))
            if global.json { return Output.printJSON(result) }
            let rows = (result["items"]?.arrayValue ?? []).map {
                [
                    Output.text($0["id"]), Output.text($0["source"]?["platform"]), Output.text($0["source"]?["formId"]),
                    Output.text($0["receivedAt"]),
                ]
            }
            print(Output.table(["LEAD", "PLATFORM", "FORM", "RECEIVED"], rows))
            if result["nextCursor"] != nil { print("(more: use --limit or --json with cursor paging)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one lead in full (JSON).")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            Output.printJSON(try await global.connection().call("ingest", "ingest.getLead", ["id": .string(id)]))
        }
    }
}

extension LeadsCommand {
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "submit", abstract: "Submit a lead by hand (phone, event, import) as JSON.",
            discussion: """
                The JSON is a lead submission (Schemas/lead.schema.json: source.platform "api" and
                fields are enough); ingest normalizes it, stores it and hands it to the router like
                any lead. The idempotency key makes a retried submit store the lead once.

                EXAMPLES
                  echo '{"source":{"platform":"api"},"fields":{"email":"a@example.com"}}' \\
                    | leadctl leads submit --key import-2026-12-01-0001
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Read the lead from this file (default: standard input).") var file: String?
        @Option(help: "Idempotency key: the same key never stores a second lead.") var key: String

        func run() async throws {
            let data: Data
            if let file {
                guard let read = FileManager.default.contents(atPath: file) else {
                    throw LeadctlFailure.usage("cannot read \(file)")
                }
                data = read
            } else {
                data = FileHandle.standardInput.readDataToEndOfFile()
            }
            let lead: JSONValue
            do {
                lead = try JSONCoding.parse(data)
            } catch {
                throw LeadctlFailure.usage("the lead is not valid JSON (\(file ?? "standard input"))")
            }
            let result = try await global.connection().call(
                "ingest", "ingest.submitLead", ["lead": lead, "idempotencyKey": .string(key)])
            if global.json { return Output.printJSON(result) }
            print(
                "lead \(Output.text(result["id"]))\(result["duplicate"] == .bool(true) ? " (already submitted)" : "")")
        }
    }

    struct HandOff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hand-off", abstract: "Hand leads held by ingest to the router again.",
            discussion: """
                For after a router database was restored from a backup older than the leads: the
                router stores each lead once and makes one delivery per matching route, so handing
                a lead it already has changes nothing.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Lead ids.") var ids: [String]

        func run() async throws {
            let connection = try global.connection()
            var results: [JSONValue] = []
            for (index, id) in ids.enumerated() {
                let lead = try await connection.call("ingest", "ingest.getLead", ["id": .string(id)])
                results.append(try await connection.call("router", "router.enqueueLead", ["lead": lead]))
                Output.progress(index + 1, of: ids.count, label: "hand-off")
            }
            if global.json { return Output.printJSON(["items": .array(results)]) }
            for (id, result) in zip(ids, results) {
                let deliveries = result["deliveries"]?.arrayValue?.count ?? 0
                print(
                    "\(id): \(deliveries) deliveries\(result["duplicate"] == .bool(true) ? " (the router already held it)" : "")"
                )
            }
        }
    }
}

struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "The ingest daemon's operations.", subcommands: [Reconcile.self, Stats.self])

    struct Reconcile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reconcile", abstract: "Fetch leads from Meta that webhooks missed, now.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this form.") var form: String?

        func run() async throws {
            let params: JSONValue = form.map { ["formId": .string($0)] } ?? [:]
            let result = try await global.connection().call("ingest", "ingest.reconcile", params)
            if global.json { return Output.printJSON(result) }
            print(
                "reconciled \(Output.text(result["forms"])) forms: \(Output.text(result["fetched"])) leads fetched "
                    + "over \(Output.text(result["pages"])) pages, \(Output.text(result["inserted"])) new")
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stats", abstract: "Inbox counts and pages needing attention.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            Output.printJSON(try await global.connection().call("ingest", "ingest.stats", [:]))
        }
    }
}

/// Sends a correctly signed sample leadgen webhook to the local endpoint, so an operator can
/// test a setup end to end (webhook -> Graph API -> router -> CRM).
struct TestLeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-lead", abstract: "Send a signed sample Meta webhook to the local ingest endpoint.",
        discussion: """
            The webhook is signed with the Meta app secret. leadctl reads it from the vault when
            you may read it (in development you hold every role); otherwise pipe it in with
            --app-secret-stdin. The lead id is fresh each time; follow it with
            'leadctl leads list' and 'leadctl deliveries list'.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Page id of the sample lead.") var page: String = "153125381133"
    @Option(help: "Form id of the sample lead.") var form: String = "12312312312"
    @Option(help: "Webhook URL (default: http://<[ingest] webhook_listen>/webhooks/meta).") var url: String?
    @Flag(help: "Read the app secret from standard input instead of the vault.") var appSecretStdin = false

    func run() async throws {
        let connection = try global.connection()
        let secret: String
        if appSecretStdin {
            secret = try SecretInput.read(prompt: "Meta app secret: ")
        } else {
            let answer = try await connection.call(
                "vault", "vault.getSecret", ["name": .string(connection.config.meta.appSecret)])
            secret = answer["value"]?.stringValue ?? ""
        }
        let leadgenID = String(UInt64.random(in: 100_000_000_000_000...999_999_999_999_999))
        let now = Int(Date().timeIntervalSince1970)
        let body = Data(
            """
            {"object":"page","entry":[{"id":"\(page)","time":\(now),"changes":[{"field":"leadgen","value":{"leadgen_id":"\(leadgenID)","page_id":"\(page)","form_id":"\(form)","ad_id":"6000000000001","adgroup_id":"6000000000002","created_time":\(now)}}]}]}
            """.utf8)
        let signature = Hex.encode(
            HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8))))
        let target = url ?? "http://\(connection.config.ingest.webhookListen)/webhooks/meta"
        let response: HTTPResponse
        do {
            response = try await HTTPClient().send(
                HTTPRequest(
                    method: "POST", url: target,
                    headers: [("Content-Type", "application/json"), ("X-Hub-Signature-256", "sha256=\(signature)")],
                    body: body))
        } catch {
            throw LeadctlFailure.unreachable(
                "cannot POST to \(target): \(error). Is leadline-ingest-webhook.socket listening?")
        }
        if global.json {
            return Output.printJSON([
                "status": .int(Int64(response.status)), "leadgenId": .string(leadgenID), "url": .string(target),
            ])
        }
        guard response.status == 200 else {
            throw LeadctlFailure.failed(
                "the endpoint answered \(response.status) (403 means the signature did not match the app secret)")
        }
        print("sent leadgen \(leadgenID) (page \(page), form \(form)) to \(target): 200")
        print("follow it: leadctl leads list; leadctl deliveries list")
    }
}
