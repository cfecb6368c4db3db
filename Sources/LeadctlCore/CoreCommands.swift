import ArgumentParser
import Foundation
import LeadlineRPC

struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call any method of a daemon with raw JSON params.",
        discussion: """
            Sends one JSON-RPC call and prints the result as JSON. Params are a JSON object
            (named params), given as an argument or, with '-', read from standard input, so
            secrets need never appear in the process list.

            EXAMPLES
              leadctl call vault service.info
              leadctl call router router.listDeliveries '{"state":"dead"}'
              echo '{"name":"meta/app-secret"}' | leadctl call vault vault.getSecret -
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The daemon: vault, ingest, router or audit.")
    var service: String

    @Argument(help: "The method, e.g. service.info.")
    var method: String

    @Argument(help: "Params as a JSON object, or '-' to read them from standard input.")
    var params: String?

    func validate() throws {
        guard Connection.services.contains(service) else {
            throw ValidationError(
                "unknown service '\(service)'; use one of: \(Connection.services.joined(separator: ", "))")
        }
    }

    func run() async throws {
        var value: JSONValue?
        if let params {
            let text =
                params == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : params
            do {
                value = try JSONCoding.parse(Array(text.utf8))
            } catch {
                throw LeadctlFailure.usage("params are not valid JSON (expected an object like '{\"name\":\"x\"}')")
            }
        }
        let result = try await global.connection().call(service, method, value)
        Output.printJSON(result)
    }
}

struct DiscoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "Show a daemon's methods (its OpenRPC document).",
        discussion: "Without --json, lists each method with its summary; with --json, prints the whole document.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The daemon: vault, ingest, router or audit.")
    var service: String

    func validate() throws {
        guard Connection.services.contains(service) else {
            throw ValidationError(
                "unknown service '\(service)'; use one of: \(Connection.services.joined(separator: ", "))")
        }
    }

    func run() async throws {
        let document = try await global.connection().call(service, "rpc.discover")
        if global.json { return Output.printJSON(document) }
        let rows = (document["methods"]?.arrayValue ?? []).map { method in
            let params = (method["params"]?.arrayValue ?? []).map { param -> String in
                let name = param["name"]?.stringValue ?? "?"
                return param["required"] == .bool(true) ? name : name + "?"
            }
            return [
                method["name"]?.stringValue ?? "?", params.joined(separator: ", "),
                method["summary"]?.stringValue ?? "",
            ]
        }
        print(Output.table(["METHOD", "PARAMS", "SUMMARY"], rows))
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether each daemon answers, its version, uptime and queue depths.",
        discussion: "Exit status 3 when any daemon is unreachable.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let connection = try global.connection()
        var report: [String: JSONValue] = [:]
        var unreachable: [String] = []
        await withTaskGroup(of: (String, JSONValue).self) { group in
            for service in Connection.services {
                group.addTask {
                    do {
                        let info = try await connection.call(service, "service.info")
                        return (service, ["state": "running", "info": info])
                    } catch let failure as LeadctlFailure {
                        return (
                            service,
                            [
                                "state": failure.exitCode == 3 ? "unreachable" : "error",
                                "error": .string(failure.message),
                            ]
                        )
                    } catch {
                        return (service, ["state": "error", "error": .string("\(error)")])
                    }
                }
            }
            for await (service, entry) in group {
                report[service] = entry
                if entry["state"] != "running" { unreachable.append(service) }
            }
        }
        let attention = await Self.attention(
            connection, running: report.filter { $0.value["state"] == "running" }.map(\.key))
        if global.json {
            report["attention"] = .object(attention)
            Output.printJSON(.object(report))
        } else {
            let rows = Connection.services.map { service -> [String] in
                let entry = report[service]
                let info = entry?["info"]
                let queues = (info?["queues"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
                    .map { "\($0.key)=\(Output.text($0.value))" }.joined(separator: " ")
                let uptime = info?["uptimeSeconds"]?.doubleValue.map { "\(Int($0))s" } ?? "-"
                return [
                    "leadline-\(service)", Output.text(entry?["state"]), Output.text(info?["version"]),
                    Output.text(info?["pid"]), uptime, queues.isEmpty ? "-" : queues,
                ]
            }
            print(Output.table(["DAEMON", "STATE", "VERSION", "PID", "UPTIME", "QUEUES"], rows))
            if let dead = attention["deadDeliveries"]?.intValue, dead > 0 {
                print(
                    "\n\(dead) dead deliveries: leadctl deliveries list --state dead; leadctl deliveries retry --dead")
            }
            for page in attention["pagesNeedingAttention"]?.arrayValue ?? [] {
                print(
                    "page \(Output.text(page["pageId"])) needs attention: \(Output.text(page["reason"])) (leads wait until a new token is stored: leadctl meta connect)"
                )
            }
            for secret in (attention["secretsExpired"]?.arrayValue ?? [])
                + (attention["secretsExpiringSoon"]?.arrayValue ?? [])
            {
                print("secret \(Output.text(secret["name"])) expires \(Output.text(secret["expiresAt"]))")
            }
            for service in Connection.services {
                if let rejected = report[service]?["info"]?["queues"]?["auditRejected"]?.intValue, rejected > 0 {
                    print(
                        "leadline-\(service): \(rejected) audit events refused by leadline-audit, kept in its "
                            + "database (table audit_spool_rejected); see its journal for the reason")
                }
            }
            if let checkpoint = attention["lastCheckpoint"], checkpoint != .null {
                print(
                    "last audit checkpoint: seq \(Output.text(checkpoint["seq"])) at \(Output.text(checkpoint["time"]))"
                )
            }
            for service in unreachable.sorted() {
                if let error = report[service]?["error"]?.stringValue { print("\nleadline-\(service): \(error)") }
            }
        }
        if !unreachable.isEmpty { throw ExitCode(3) }
    }
}

extension StatusCommand {
    /// What needs an operator: dead deliveries, pages waiting on a token, expiring secrets, and
    /// the last audit checkpoint. A daemon that cannot say (or is down) is simply left out.
    static func attention(_ connection: Connection, running: [String]) async -> [String: JSONValue] {
        var attention: [String: JSONValue] = [:]
        if running.contains("router"), let stats = try? await connection.call("router", "router.stats", [:]) {
            attention["deadDeliveries"] = stats["deliveries"]?["dead"] ?? 0
        }
        if running.contains("ingest"), let stats = try? await connection.call("ingest", "ingest.stats", [:]) {
            attention["pagesNeedingAttention"] = stats["pagesNeedingAttention"] ?? []
            attention["leadsWaitingOnToken"] = stats["inbox"]?["waitingToken"] ?? 0
        }
        if running.contains("vault"), let status = try? await connection.call("vault", "vault.status", [:]) {
            attention["secretsExpired"] = status["expired"] ?? []
            attention["secretsExpiringSoon"] = status["expiringSoon"] ?? []
        }
        if running.contains("audit") {
            attention["lastCheckpoint"] = (try? await connection.call("audit", "audit.checkpoint", [:])) ?? .null
        }
        return attention
    }
}

struct ManualCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "help-man", abstract: "Print leadctl's manual page (roff) for man(1).", shouldDisplay: false)

    func run() throws {
        print(ManualPage.render(root: Leadctl.self))
    }
}
