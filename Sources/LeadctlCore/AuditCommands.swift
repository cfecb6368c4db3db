import ArgumentParser
import Foundation
import LeadlineRPC

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Read, verify and export the tamper-evident audit log.",
        subcommands: [Tail.self, Query.self, Verify.self, Export.self, Checkpoint.self])

    struct Filters: ParsableArguments {
        @Option(help: "From this RFC 3339 time.") var since: String?
        @Option(help: "Until this RFC 3339 time.") var until: String?
        @Option(help: "Action, or a prefix ending in .* (e.g. vault.*).") var action: String?
        @Option(help: "Subject: a lead id, secret name, route id...") var subject: String?
        @Option(help: "Actor: a service name or uid:N(user).") var actor: String?

        var params: [String: JSONValue] {
            var params: [String: JSONValue] = [:]
            for (key, value) in [
                ("since", since), ("until", until), ("action", action), ("subject", subject), ("actor", actor),
            ] {
                if let value { params[key] = .string(value) }
            }
            return params
        }
    }

    static func printEvents(_ items: [JSONValue]) {
        for event in items {
            print(
                "\(Output.text(event["seq"]))  \(Output.text(event["time"]))  \(Output.text(event["actor"]))  "
                    + "\(Output.text(event["action"]))  \(Output.text(event["subject"]))  \(Output.text(event["outcome"]))"
            )
        }
    }

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tail", abstract: "Show the latest events; with -f, keep following new ones.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .shortAndLong, help: "How many recent events.") var lines: Int = 20
        @Flag(name: .shortAndLong, help: "Follow: print new events as they arrive (Ctrl-C stops).") var follow = false

        func run() async throws {
            let connection = try global.connection()
            var all: [JSONValue] = []
            var cursor: JSONValue?
            repeat {
                var params: [String: JSONValue] = ["limit": 1000]
                if let cursor { params["cursor"] = cursor }
                let page = try await connection.call("audit", "audit.query", .object(params))
                all += page["items"]?.arrayValue ?? []
                if all.count > lines * 4 { all = Array(all.suffix(lines)) }
                cursor = page["nextCursor"]
            } while cursor != nil
            let recent = Array(all.suffix(lines))
            global.json ? recent.forEach(Output.printJSONLine) : AuditCommand.printEvents(recent)
            guard follow else { return }
            // Audit cursors are "seq:<n>" (after event n): poll from the last one seen.
            var lastSeq = all.last?["seq"]?.intValue ?? 0
            while true {
                try await Task.sleep(for: .seconds(1))
                let page = try await connection.call(
                    "audit", "audit.query", ["limit": 1000, "cursor": .string("seq:\(lastSeq)")])
                let fresh = page["items"]?.arrayValue ?? []
                if let last = fresh.last?["seq"]?.intValue { lastSeq = last }
                global.json ? fresh.forEach(Output.printJSONLine) : AuditCommand.printEvents(fresh)
            }
        }
    }

    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "query", abstract: "Search events by time, action, subject, actor.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var filters: Filters
        @Option(help: "At most this many events.") var limit: Int = 100

        func run() async throws {
            var params = filters.params
            params["limit"] = .int(Int64(min(limit, 1000)))
            let result = try await global.connection().call("audit", "audit.query", .object(params))
            if global.json { return Output.printJSON(result) }
            AuditCommand.printEvents(result["items"]?.arrayValue ?? [])
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify", abstract: "Recompute the hash chain and check every signed checkpoint.",
            discussion: "Exit status 1 when the log was tampered with; the first bad sequence number is printed.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            Output.standardError(Data(isatty(2) != 0 ? "verifying the audit log...\n".utf8 : "".utf8))
            let result = try await global.connection().call("audit", "audit.verify", [:])
            if global.json {
                Output.printJSON(result)
            } else if result["ok"] == true {
                print(
                    "ok: \(Output.text(result["events"])) events, \(Output.text(result["checkpoints"])) checkpoints verified"
                )
            } else {
                print(
                    "TAMPERED: first bad event seq \(Output.text(result["firstBadSeq"])) — \(Output.text(result["detail"]))"
                )
            }
            if result["ok"] != true { throw ExitCode(1) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export", abstract: "Write every event as JSON Lines to standard output.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "From this RFC 3339 time.") var since: String?

        func run() async throws {
            let connection = try global.connection()
            var cursor: JSONValue?
            var written = 0
            repeat {
                var params: [String: JSONValue] = ["limit": 1000]
                if let since { params["since"] = .string(since) }
                if let cursor { params["cursor"] = cursor }
                let page = try await connection.call("audit", "audit.export", .object(params))
                if let data = page["data"]?.stringValue { Output.standardOutput(Data(data.utf8)) }
                written += Int(page["lines"]?.intValue ?? 0)
                cursor = page["nextCursor"]
                if isatty(2) != 0 { Output.standardError(Data("\rexported \(written) events".utf8)) }
            } while cursor != nil
            if isatty(2) != 0 { Output.standardError(Data("\n".utf8)) }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint", abstract: "Show the latest signed checkpoint (keep copies off the host).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            Output.printJSON(try await global.connection().call("audit", "audit.checkpoint", [:]))
        }
    }
}

extension Output {
    static func printJSONLine(_ value: JSONValue) {
        if let data = try? JSONCoding.encode(value) {
            Output.standardOutput(data + Data("\n".utf8))
        }
    }
}
