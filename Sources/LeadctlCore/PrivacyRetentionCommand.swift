import ArgumentParser
import Foundation
import LeadlineRPC

/// `leadctl privacy retention`: the [retention] policy, and with --run one pass in every daemon
/// that holds data (ingest, router, audit) with what each removed.
struct PrivacyRetention: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Show the retention policy; with --run, apply it now in ingest, router and audit.",
        discussion: """
            Each daemon applies [retention] by itself every hour: ingest removes the personal data of
            leads older than lead_days once the router holds them; the router removes lead payloads
            lead_days after every delivery settled, and delivery logs after delivery_log_days; audit
            prunes events older than audit_days behind a signed anchor (never while the chain fails
            to verify). --run starts that pass now in each daemon and prints what it removed; every
            pass that removed something is recorded in the audit log. A daemon that fails does not
            stop the others; the exit code is that of the first failure.
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Run the retention pass now in ingest, router and audit.") var run = false

    static let services = ["ingest", "router", "audit"]

    func run() async throws {
        let connection = try global.connection()
        let policy = connection.config.retention
        let policyJSON: JSONValue = [
            "leadDays": .int(Int64(policy.leadDays)), "deliveryLogDays": .int(Int64(policy.deliveryLogDays)),
            "auditDays": .int(Int64(policy.auditDays)),
        ]
        guard run else {
            if global.json { return Output.printJSON(["policy": policyJSON]) }
            print(
                Output.table(
                    ["data", "kept for", "config key"],
                    [
                        [
                            "lead personal data", "\(policy.leadDays) days after delivery settled",
                            "[retention] lead_days",
                        ],
                        ["delivery log", "\(policy.deliveryLogDays) days", "[retention] delivery_log_days"],
                        ["audit events", "\(policy.auditDays) days", "[retention] audit_days"],
                    ]))
            print("applied hourly by each daemon; run it now with: leadctl privacy retention --run")
            return
        }
        var reports: [String: JSONValue] = [:]
        var failures: [(service: String, failure: LeadctlFailure)] = []
        for service in Self.services {
            do {
                reports[service] = try await connection.call(service, "\(service).runRetention")
            } catch let failure as LeadctlFailure {
                failures.append((service, failure))
            }
        }
        if global.json {
            Output.printJSON([
                "policy": policyJSON, "runs": .object(reports),
                "failed": .object(
                    Dictionary(
                        uniqueKeysWithValues: failures.map { ($0.service, JSONValue.string($0.failure.message)) })),
            ])
        } else {
            let rows = Self.services.compactMap { service -> [String]? in
                guard let report = reports[service] else { return nil }
                let removed = (report["removed"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
                    .map { "\($0.key) \(Output.text($0.value))" }.joined(separator: ", ")
                return [service, Output.text(report["ranAt"]), removed]
            }
            if !rows.isEmpty { print(Output.table(["daemon", "ran at", "removed"], rows)) }
        }
        if let first = failures.first {
            for other in failures.dropFirst() {
                Output.standardError(Data("leadctl: \(other.failure.message)\n".utf8))
            }
            throw first.failure
        }
    }
}
