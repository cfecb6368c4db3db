import ArgumentParser
import Foundation
import LeadlineTestSupport

/// `make bench`: every number next to a baseline measured in the same run on the same machine,
/// reported as a ratio, because these machines are shared and absolute numbers drift.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leadline-bench",
        abstract: "Measure Leadline against same-run baselines and write a report.")

    @Option(help: "Seconds per throughput run.")
    var seconds: Double = 3

    @Option(help: "Write the report (Markdown) to this file as well as stdout.")
    var report: String?

    @Option(
        help: "Only these sections (comma separated): rpc, dispatch, storage, webhook, vault-audit, daemons, delivery.")
    var only: String?

    func run() async throws {
        var table = BenchTable()
        let sections = only.map { Set($0.split(separator: ",").map(String.init)) }
        func wanted(_ name: String) -> Bool { sections?.contains(name) ?? true }
        if wanted("rpc") { try await RPCBench(seconds: seconds).run(into: &table) }
        if wanted("dispatch") { try await DispatchBench().run(into: &table) }
        if wanted("storage") { try await StorageBench().run(into: &table) }
        if wanted("webhook") { try await WebhookBench(seconds: seconds).run(into: &table) }
        if wanted("vault-audit") { try await VaultAuditBench(seconds: seconds).run(into: &table) }
        if wanted("daemons") { try await DaemonFootprintBench().run(into: &table) }
        if wanted("delivery") { try await DeliveryBench(seconds: seconds).run(into: &table) }
        let text = table.render()
        print(text)
        if let report {
            var document = BenchTable.document(body: text)
            let previous = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
            if let crashTest = MarkdownReport.section(MarkdownReport.crashTestTitle, in: previous) {
                document = MarkdownReport.replacingSection(MarkdownReport.crashTestTitle, in: document, with: crashTest)
            }
            try document.write(toFile: report, atomically: true, encoding: .utf8)
            print("report written to \(report)")
        }
    }
}

/// One row: what was measured, the value, its baseline, the ratio, the target and a verdict.
struct BenchRow {
    var name: String
    var value: String
    var baseline: String
    var ratio: String
    var target: String
    var met: Bool?
}

struct BenchTable {
    var rows: [BenchRow] = []

    mutating func add(_ row: BenchRow) {
        rows.append(row)
        FileHandle.standardError.write(Data("  \(row.name): \(row.value) (baseline \(row.baseline))\n".utf8))
    }

    func render() -> String {
        var lines = [
            "| measurement | Leadline | baseline (same run) | ratio | target | met |",
            "|---|---|---|---|---|---|",
        ]
        for row in rows {
            let verdict = row.met.map { $0 ? "yes" : "NO" } ?? "-"
            lines.append("| \(row.name) | \(row.value) | \(row.baseline) | \(row.ratio) | \(row.target) | \(verdict) |")
        }
        return lines.joined(separator: "\n")
    }

    static func document(body: String) -> String {
        let host = ProcessInfo.processInfo.hostName
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = ProcessInfo.processInfo.physicalMemory / (1 << 30)
        var style = Date.ISO8601FormatStyle()
        style.timeZone = .gmt
        return """
            # Benchmarks

            The last full `make bench` run. Baselines are measured in the same run on the same machine
            (a C client and server for the socket, a bare swift-nio server for the event-loop library's
            own share, both in rounds alternating with the daemon's; a bare swift-nio HTTP server with
            the HMAC check and SQLite group commit for webhooks; raw SQLite for storage; the same
            libraries doing nothing for idle memory); compare the ratios, not the absolute numbers,
            which move with the machine's load.

            - when: \(Date().formatted(style))
            - machine: \(host), \(cores) cores, \(memory) GiB, \(kernel())
            - build: release

            \(body)
            """
    }

    static func kernel() -> String {
        let release = try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)
        return "Linux " + (release?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
    }
}

func format(_ value: Double, _ unit: String = "", digits: Int = 0) -> String {
    String(format: "%.\(digits)f", value) + unit
}
