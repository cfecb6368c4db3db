import Foundation
import LeadlineTestSupport
import Testing

/// leadctl as an operator runs it: real binary, real sockets, documented exit codes.
@Suite struct LeadctlTests {
    @Test func statusIsATableOrJSONAndExits3WhileADaemonIsDown() throws {
        let stack = try TestStack()
        try stack.start("vault")
        try stack.start("audit")
        let partial = try stack.leadctl(["status"])
        #expect(partial.exitCode == 3)
        #expect(partial.stdout.contains("leadline-vault   running"))
        #expect(partial.stdout.contains("leadline-ingest  unreachable"))
        #expect(partial.stdout.contains("systemctl status leadline-ingest.socket"))

        try stack.start("ingest", webhook: true)
        try stack.start("router")
        let full = try stack.leadctl(["status", "--json"])
        #expect(full.exitCode == 0, "\(full.stderr)")
        let report = try #require(full.json as? [String: Any])
        for service in ["vault", "ingest", "router", "audit"] {
            #expect((report[service] as? [String: Any])?["state"] as? String == "running")
        }
        stack.removeFiles()
    }

    @Test func callPrintsTheResultAndMapsErrorsToExitCodes() throws {
        let stack = try TestStack()
        try stack.start("audit")
        let ok = try stack.leadctl(["call", "audit", "service.setLogLevel", #"{"level":"debug"}"#])
        #expect(ok.exitCode == 0)
        #expect((ok.json as? [String: Any])?["level"] as? String == "debug")

        let fromStdin = try stack.leadctl(["call", "audit", "service.setLogLevel", "-"], input: #"{"level":"info"}"#)
        #expect((fromStdin.json as? [String: Any])?["previous"] as? String == "debug")

        let refused = try stack.leadctl(["call", "audit", "service.setLogLevel", #"{"level":"loud"}"#])
        #expect(refused.exitCode == 1)
        #expect(refused.stderr.contains("invalid input: param 'level' must be one of"))

        let usage = try stack.leadctl(["call", "mailer", "service.ping"])
        #expect(usage.exitCode == 2)
        #expect(usage.stderr.contains("unknown service 'mailer'"))

        let notJSON = try stack.leadctl(["call", "audit", "service.ping", "{oops"])
        #expect(notJSON.exitCode == 2)

        let down = try stack.leadctl(["call", "router", "service.ping"])
        #expect(down.exitCode == 3)
        stack.removeFiles()
    }

    /// `leadctl ... | head`: when the reader goes away, leadctl ends as Unix tools do (SIGPIPE,
    /// status 141), with no crash report on the terminal.
    @Test func aReaderThatGoesAwayEndsLeadctlQuietly() throws {
        let stack = try TestStack()
        defer { stack.removeFiles() }
        try stack.start("audit")
        let script = """
            { sleep 0.3; "$LEADCTL" call audit service.ping; } | head -c0
            echo "call ${PIPESTATUS[0]}"
            { sleep 0.3; "$LEADCTL" status --json; } | head -c0
            echo "status ${PIPESTATUS[0]}"
            { sleep 0.3; "$LEADCTL" discover audit; } | head -c0
            echo "table ${PIPESTATUS[0]}"
            """
        let out = stack.root + "/pipe.out"
        let err = stack.root + "/pipe.err"
        let shell = try ChildProcess(
            path: "/bin/bash", arguments: ["-c", script],
            environment: [
                "LEADCTL": "\(TestStack.binDirectory)/leadctl", "LEADLINE_CONFIG": stack.configPath,
                "PATH": "/usr/bin:/bin", "HOME": stack.root,
            ], logPath: out, errorPath: err)
        try shell.waitForExit(timeout: 30)
        let printed = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let complaints = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        #expect(
            printed.contains("call 141") && printed.contains("status 141") && printed.contains("table 141"),
            "\(printed)")
        #expect(!complaints.contains("Fatal error") && !complaints.contains("crashed"), "\(complaints)")
    }

    @Test func discoverListsTheDaemonsMethods() throws {
        let stack = try TestStack()
        try stack.start("vault")
        let table = try stack.leadctl(["discover", "vault"])
        #expect(table.exitCode == 0)
        #expect(table.stdout.contains("vault.putSecret"))
        #expect(table.stdout.contains("service.setLogLevel  level"))
        stack.removeFiles()
    }

    @Test func helpAndManualPageDescribeEveryCommand() throws {
        let stack = try TestStack()
        let help = try stack.leadctl(["--help"])
        #expect(help.exitCode == 0)
        for command in [
            "status", "secrets", "leads", "destinations", "routes", "deliveries", "audit", "privacy", "meta", "doctor",
        ] {
            #expect(help.stdout.contains(command), "--help lacks \(command)")
        }
        let manual = try stack.leadctl(["help-man"])
        #expect(manual.stdout.hasPrefix(".TH LEADCTL 1"))
        #expect(manual.stdout.contains("leadctl secrets put"))
        stack.removeFiles()
    }
}

/// leadctl against the real vault and audit daemons.
@Suite struct LeadctlVaultAuditTests {
    @Test func secretsRoundTripThroughLeadctlAndLandInTheAuditLog() async throws {
        let stack = try TestStack()
        try stack.start("vault")
        try stack.start("audit")
        let value = "tok-" + UUID().uuidString
        let put = try stack.leadctl(
            ["secrets", "put", "hubspot/main", "--reader", "router", "--kind", "hubspot-token"], input: value + "\n")
        #expect(put.exitCode == 0, "\(put.stderr)")
        #expect(put.stdout.contains("stored hubspot/main version 1"))
        #expect(!put.stdout.contains(value) && !put.stderr.contains(value))

        let list = try stack.leadctl(["secrets", "list"])
        #expect(list.stdout.contains("hubspot/main"))
        #expect(list.stdout.contains("hubspot-token"))
        #expect(!list.stdout.contains(value))

        let listed = try stack.leadctl(["secrets", "list", "--json"])
        #expect(((listed.json as? [String: Any])?["items"] as? [Any])?.count == 1)

        // In a test stack one user holds every role, so it is also the secret's reader.
        let get = try stack.leadctl(["secrets", "get", "hubspot/main"])
        #expect(get.stdout == value + "\n")

        let noReader = try stack.leadctl(["secrets", "put", "x"], input: "v\n")
        #expect(noReader.exitCode == 2)

        let rotated = try stack.leadctl(["secrets", "rotate-key", "--json"])
        #expect((rotated.json as? [String: Any])?["keyVersion"] as? Int == 2)

        let removed = try stack.leadctl(["secrets", "rm", "hubspot/main"])
        #expect(removed.exitCode == 0)
        let missing = try stack.leadctl(["secrets", "get", "hubspot/main"])
        #expect(missing.exitCode == 1)
        #expect(missing.stderr.contains("NotFound"))

        // The vault's spool forwards its events to the audit daemon.
        try await eventually(timeout: 20) {
            let query = try stack.leadctl(["audit", "query", "--subject", "hubspot/main", "--json"])
            return ((query.json as? [String: Any])?["items"] as? [Any])?.count ?? 0 >= 3
        }
        let verify = try stack.leadctl(["audit", "verify"])
        #expect(verify.exitCode == 0)
        #expect(verify.stdout.hasPrefix("ok: "))
        let export = try stack.leadctl(["audit", "export"])
        #expect(export.stdout.split(separator: "\n").count >= 3)
        #expect(!export.stdout.contains(value))
        stack.removeFiles()
    }
}

/// leadctl doctor names each problem and its fix, and fails while one exists.
@Suite struct LeadctlDoctorTests {
    @Test func doctorPassesOnAHealthyStackAndExplainsADownDaemon() throws {
        let stack = try TestStack()
        for service in ["vault", "router", "audit"] { try stack.start(service) }
        try stack.start("ingest", webhook: true)
        let healthy = try stack.leadctl(["doctor", "--offline"])
        #expect(healthy.exitCode == 0, "\(healthy.stdout)")
        for service in ["vault", "ingest", "router", "audit"] {
            #expect(healthy.stdout.contains("ok   \(service) daemon"))
        }

        try stack.stop("router")
        let sick = try stack.leadctl(["doctor", "--offline", "--json"])
        #expect(sick.exitCode == 1)
        let checks = try #require(sick.json as? [[String: Any]])
        let router = try #require(
            checks.first { $0["check"] as? String == "router daemon" || $0["check"] as? String == "router socket" })
        #expect(router["ok"] as? Bool == false)
        #expect((router["fix"] as? String)?.contains("leadline-router") == true)
        stack.removeFiles()
    }
}

/// The methods an operator rarely needs still have a command: a compare-and-swap secret update,
/// a lead submitted by hand, a lead handed to the router again.
@Suite struct LeadctlLessCommonCommandsTests {
    @Test func secretsUpdateIsACompareAndSwap() throws {
        let stack = try TestStack()
        try stack.start("vault")
        try stack.start("audit")
        let put = try stack.leadctl(["secrets", "put", "crm/token", "--reader", "router"], input: "first\n")
        #expect(put.exitCode == 0, "\(put.stderr)")
        let updated = try stack.leadctl(
            ["secrets", "update", "crm/token", "--expected-version", "1"], input: "second\n")
        #expect(updated.exitCode == 0, "\(updated.stderr)")
        #expect(updated.stdout.contains("updated crm/token to version 2"))
        let stale = try stack.leadctl(
            ["secrets", "update", "crm/token", "--expected-version", "1", "--json"], input: "third\n")
        #expect(stale.exitCode == 1)
        #expect(stale.stderr.contains("Conflict"))
        #expect(!stale.stderr.contains("third"))
        #expect(try stack.leadctl(["secrets", "get", "crm/token"]).stdout == "second\n")
        stack.removeFiles()
    }

    @Test func leadsSubmittedByHandReachTheRouterAndCanBeHandedOffAgain() async throws {
        let stack = try TestStack()
        for service in ["vault", "audit", "router"] { try stack.start(service) }
        try stack.start("ingest", webhook: true)
        let lead = #"{"source":{"platform":"api"},"fields":{"email":"grace@example.com"}}"#
        let submitted = try stack.leadctl(["leads", "submit", "--key", "by-hand-1", "--json"], input: lead)
        #expect(submitted.exitCode == 0, "\(submitted.stderr)")
        let id = try #require((submitted.json as? [String: Any])?["id"] as? String)
        let again = try stack.leadctl(["leads", "submit", "--key", "by-hand-1"], input: lead)
        #expect(again.stdout.contains("\(id) (already submitted)"))
        let shown = try stack.leadctl(["leads", "show", id])
        #expect(
            ((shown.json as? [String: Any])?["fields"] as? [String: Any])?["email"] as? String == "grace@example.com")

        let notJSON = try stack.leadctl(["leads", "submit", "--key", "k"], input: "{not json")
        #expect(notJSON.exitCode == 2)
        #expect(notJSON.stderr.contains("not valid JSON"))

        // Ingest hands the lead to the router by itself; handing it again changes nothing.
        let ingest = stack.client("ingest")
        try await eventually(timeout: 30) { try await ingest.call("ingest.stats")["inbox"]?["handedOff"] == 1 }
        let handOff = try stack.leadctl(["leads", "hand-off", id, "--json"])
        #expect(handOff.exitCode == 0, "\(handOff.stderr)")
        let items = try #require((handOff.json as? [String: Any])?["items"] as? [[String: Any]])
        #expect(items.first?["leadId"] as? String == id)
        #expect(items.first?["duplicate"] as? Bool == true)
        let unknown = try stack.leadctl(["leads", "hand-off", "ld_not_there"])
        #expect(unknown.exitCode == 1)
        #expect(unknown.stderr.contains("NotFound"))
        stack.removeFiles()
    }
}
