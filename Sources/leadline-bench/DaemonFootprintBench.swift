import Foundation
import LeadlineTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Idle memory of each daemon and socket-activated cold start to the first reply.
struct DaemonFootprintBench {
    func run(into table: inout BenchTable) async throws {
        FileHandle.standardError.write(Data("daemons: idle RSS and cold start\n".utf8))
        let stack = try TestStack()
        defer { stack.removeFiles() }
        let floor = try idleBaselineMiB(in: stack.root)
        for service in ["vault", "ingest", "router", "audit"] {
            var coldStarts: [Double] = []
            var rss = 0.0
            for attempt in 0..<5 {
                let process = try stack.start(
                    service, webhook: service == "ingest", extraEnvironment: ["LEADLINE_CHECK_RESULTS": "0"])
                let started = ContinuousClock.now
                let socket = try RawSocket(path: stack.socketPath(service))
                try socket.send(#"{"jsonrpc":"2.0","method":"service.ping","id":1}"# + "\n")
                _ = try socket.readLine()
                coldStarts.append((ContinuousClock.now - started).seconds * 1000)
                if attempt == 4 {
                    try await Task.sleep(for: .seconds(1))
                    rss = residentMiB(pid: process.pid)
                }
                try stack.stop(service)
            }
            let median = coldStarts.sorted()[coldStarts.count / 2]
            table.add(
                BenchRow(
                    name: "leadline-\(service) idle RSS, vs the same libraries doing nothing",
                    value: format(rss, " MiB", digits: 1), baseline: format(floor, " MiB", digits: 1),
                    ratio: format(rss / floor, "x", digits: 2), target: "< 15 MiB", met: rss < 15))
            table.add(
                BenchRow(
                    name: "leadline-\(service) cold start to first reply (median of 5)",
                    value: format(median, " ms", digits: 1), baseline: "-", ratio: "-", target: "< 50 ms",
                    met: median < 50))
        }
    }

    func residentMiB(pid: pid_t) -> Double { Self.statusMiB(pid: pid, field: "VmRSS:") }

    /// idle-baseline-swift's RSS a second after it is ready: Foundation, GRDB and swift-nio
    /// loaded and started, and nothing of Leadline's.
    func idleBaselineMiB(in root: String) throws -> Double {
        let directory = root + "/idle-baseline"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let log = directory + "/out.log"
        let child = try ChildProcess(
            path: "\(TestStack.binDirectory)/idle-baseline-swift", arguments: [directory], logPath: log)
        defer {
            child.signal(SIGKILL)
            try? child.waitForExit(timeout: 5)
        }
        try waitFor(timeout: 10) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready") }
        Thread.sleep(forTimeInterval: 1)
        let rss = residentMiB(pid: child.pid)
        guard rss > 0 else { throw TestStackError("idle-baseline-swift exited before it was measured") }
        return rss
    }

    /// A daemon's peak resident set (VmHWM) after a load phase, as a row of the table.
    static func peakUnderLoad(_ service: String, of stack: TestStack, during load: String) -> BenchRow {
        let peak = stack.process(service).map { statusMiB(pid: $0.pid, field: "VmHWM:") } ?? -1
        return BenchRow(
            name: "leadline-\(service) peak RSS under load (\(load))", value: format(peak, " MiB", digits: 1),
            baseline: "-", ratio: "-", target: "-", met: nil)
    }

    /// A process's user and system CPU so far, from /proc/<pid>/stat (clock ticks of 1/100 s).
    static func cpuSeconds(pid: pid_t) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = stat.range(of: ") ")
        else { return 0 }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func statusMiB(pid: pid_t, field: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) })
        else { return -1 }
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        return kilobytes / 1024
    }
}
