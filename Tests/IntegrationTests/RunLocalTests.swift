import Foundation
import LeadlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `make run` as a new operator meets it: the launcher starts the four daemons and the vendor
/// doubles, seeds the sample setup, and `leadctl test-lead` travels from webhook to CRM record.
@Suite struct RunLocalTests {
    @Test func aTestLeadTravelsFromWebhookToCRMRecord() async throws {
        let stack = try TestStack()  // only for its temporary folder and leadctl helper
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let dev = stack.root + "/dev"
        let (webhook, graph, hubspot) = (try TestStack.freePort(), try TestStack.freePort(), try TestStack.freePort())
        let launcher = try ChildProcess(
            path: "/bin/bash", arguments: ["\(repository)/systemd/run-local.sh"],
            environment: [
                "BIN_DIR": TestStack.binDirectory, "LEADLINE_DEV_DIR": dev,
                "LEADLINE_DEV_WEBHOOK": "127.0.0.1:\(webhook)",
                "LEADLINE_DEV_GRAPH_PORT": "\(graph)", "LEADLINE_DEV_HUBSPOT_PORT": "\(hubspot)",
                "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": stack.root,
                "LEADLINE_FIXTURES": ProcessInfo.processInfo.environment["LEADLINE_FIXTURES"] ?? "",
            ].filter { !$0.value.isEmpty }, logPath: stack.root + "/run-local.log")
        defer {
            launcher.signal(SIGTERM)
            try? launcher.waitForExit(timeout: 20)
            if launcher.isRunning { launcher.signal(SIGKILL) }
        }
        try waitFor(timeout: 60) {
            ((try? String(contentsOfFile: stack.root + "/run-local.log", encoding: .utf8)) ?? "").contains(
                "Leadline is running")
        }
        let log = try String(contentsOfFile: stack.root + "/run-local.log", encoding: .utf8)
        #expect(log.contains("seeded:"), "\(log)")

        let config = dev + "/leadline.toml"
        func leadctl(_ arguments: [String]) throws -> LeadctlRun {
            let out = stack.root + "/out-\(UUID().uuidString)"
            let child = try ChildProcess(
                path: "\(TestStack.binDirectory)/leadctl", arguments: arguments,
                environment: ["LEADLINE_CONFIG": config, "PATH": "/usr/bin:/bin"], logPath: out, errorPath: out + ".err"
            )
            try child.waitForExit(timeout: 60)
            return LeadctlRun(
                exitCode: child.exitCode, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: out + ".err", encoding: .utf8)) ?? "")
        }
        let sent = try leadctl(["test-lead"])
        #expect(sent.exitCode == 0, "\(sent.stderr)")
        try await eventually(timeout: 30) {
            let deliveries = try leadctl(["deliveries", "list", "--state", "delivered", "--json"])
            return ((deliveries.json as? [String: Any])?["items"] as? [Any])?.count == 1
        }
        let status = try leadctl(["status"])
        #expect(status.exitCode == 0, "\(status.stdout)")
        stack.removeFiles()
    }
}
