import ArgumentParser
import ChaosCore
import Foundation
import LeadlineTestSupport

/// `make test-chaos`: the crash test. Exits non-zero on any lost or duplicated lead, a chain
/// that does not verify, or a daemon that could not come back.
@main
struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leadline-chaos",
        abstract: "Send signed webhooks while SIGKILLing random daemons; check no lead is lost or doubled.")

    @Option(help: "Distinct leads to send.")
    var leads = 10_000

    @Option(help: "Concurrent webhook senders.")
    var senders = 16

    @Option(help: "Seconds between kills, as MIN-MAX.")
    var secondsBetweenKills = "0.3-2.0"

    @Option(help: "Seconds a killed daemon stays down before its restart, as MIN-MAX (RestartSec).")
    var restartDelay = "0.1-1.0"

    @Option(help: "Leads per second offered (0: as fast as the senders go).")
    var rate = 100.0

    @Option(help: "Seconds the chaos goes on at least after the last lead was acknowledged.")
    var chaosAfterLoad = 10.0

    @Option(help: "The chaos also goes on until this share of acknowledged leads is in the CRM.")
    var chaosUntilDelivered = 0.9

    @Option(help: "Seconds the pipeline may take to settle once the chaos stops.")
    var drainTimeout = 300.0

    @Option(help: "Seed for the kill schedule and the batch shapes (default: the clock).")
    var seed: UInt64?

    @Option(help: "Write the run into this Markdown file's \"Crash test\" section (e.g. BENCHMARKS.md).")
    var report: String?

    @Flag(help: "Print the result as JSON instead of text.")
    var json = false

    func run() async throws {
        var options = ChaosOptions()
        options.leads = leads
        options.senders = senders
        options.killInterval = try Self.range(secondsBetweenKills, "--seconds-between-kills")
        options.restartDelay = try Self.range(restartDelay, "--restart-delay")
        options.rate = rate
        options.chaosAfterLoad = chaosAfterLoad
        options.chaosUntilDelivered = chaosUntilDelivered
        options.drainTimeout = drainTimeout
        if let seed { options.seed = seed }

        let result = try await ChaosRun(options: options).run()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(result.summary)
            for line in result.details { print("  " + line) }
        }
        if let report {
            let command = (["leadline-chaos"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
            let section = result.markdownSection(command: command, machine: Self.machine())
            let previous = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
            try MarkdownReport.replacingSection(MarkdownReport.crashTestTitle, in: previous, with: section)
                .write(toFile: report, atomically: true, encoding: .utf8)
        }
        if !result.passed { throw ExitCode.failure }
    }

    static func range(_ text: String, _ option: String) throws -> ClosedRange<Double> {
        let parts = text.split(separator: "-").compactMap { Double($0) }
        guard parts.count == 2, parts[0] >= 0, parts[0] <= parts[1] else {
            throw ValidationError("\(option) takes MIN-MAX seconds, e.g. 0.3-2.0")
        }
        return parts[0]...parts[1]
    }

    static func machine() -> String {
        let info = ProcessInfo.processInfo
        let kernel =
            (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        return "\(info.hostName), \(info.activeProcessorCount) cores, \(info.physicalMemory >> 30) GiB, Linux \(kernel)"
    }
}
