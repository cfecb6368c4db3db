import Foundation
import LeadlineTestSupport

/// The counts of one crash-test run, and the verdict. Counts only: no email or lead id leaves
/// the run.
public struct ChaosResult: Codable, Sendable {
    public var leads: Int
    public var seed: UInt64
    public var acknowledged = 0
    /// Leads whose sender gave up before a 200 (never promised, so never lost).
    public var unacknowledged = 0
    public var delivered = 0
    public var dead = 0
    public var lost = 0
    public var duplicates = 0
    public var rewrites = 0
    public var kills: [String: Int] = [:]
    public var unexpectedExits: [String] = []
    public var failedRestarts: [String] = []
    public var requests = 0
    public var resends = 0
    public var connectionErrors = 0
    public var refusals: [Int: Int] = [:]
    public var graphRequests = 0
    public var crmRequests = 0
    public var auditVerified = false
    public var auditEvents = 0
    public var auditRepeats = 0
    public var settled = false
    public var drainSeconds = 0.0
    public var seconds = 0.0

    init(options: ChaosOptions) {
        leads = options.leads
        seed = options.seed
    }

    public var killCount: Int { kills.values.reduce(0, +) }

    public var passed: Bool {
        lost == 0 && duplicates == 0 && auditVerified && auditRepeats == 0 && settled && unexpectedExits.isEmpty
            && failedRestarts.isEmpty && acknowledged > 0
    }

    /// The line `make test-chaos` prints.
    public var summary: String {
        "chaos: leads=\(leads) acknowledged=\(acknowledged) delivered=\(delivered) dead=\(dead) kills=\(killCount) "
            + "lost=\(lost) duplicates=\(duplicates) audit=\(auditVerified ? "verified" : "FAILED")"
    }

    public var details: [String] {
        let killed = kills.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let refused = refusals.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")
        var lines = [
            "kills: \(killed)",
            "webhook: \(requests) requests (\(resends) resends of acknowledged leads), \(connectionErrors) connection errors"
                + (refused.isEmpty ? "" : ", refused \(refused)") + ", \(unacknowledged) leads never acknowledged",
            "vendors: \(graphRequests) Graph API requests, \(crmRequests) CRM requests, \(rewrites) repeated upserts",
            "audit: \(auditEvents) events, chain \(auditVerified ? "verifies" : "does NOT verify"), "
                + "\(auditRepeats) events recorded twice",
            "time: \(Int(seconds.rounded())) s in all, \(Int(drainSeconds.rounded())) s to settle after the chaos"
                + (settled ? "" : " (did NOT settle)"),
        ]
        for exit in unexpectedExits { lines.append("unexpected exit: \(exit)") }
        for failure in failedRestarts { lines.append("restart failed: \(failure)") }
        return lines
    }

    /// The "Crash test" section of BENCHMARKS.md.
    public func markdownSection(command: String, machine: String) -> String {
        var style = Date.ISO8601FormatStyle()
        style.timeZone = .gmt
        return """
            ## Crash test

            The last full `make test-chaos` run: signed webhooks while random daemons are SIGKILLed and
            restarted on the sockets they were started with (as systemd's socket units and
            Restart=on-failure do), then every acknowledged lead is looked up in the CRM double.

            - command: `\(command)`
            - when: \(Date().formatted(style))
            - machine: \(machine)
            - build: \(URL(fileURLWithPath: TestStack.binDirectory).lastPathComponent), seed \(seed) (`--seed` replays the kill schedule; timing still varies)
            - result: \(passed ? "passed" : "FAILED")

            ```
            \(([summary] + details).joined(separator: "\n"))
            ```

            """
    }
}
