import Foundation
import LeadlineTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// service.ping round trips over the Unix socket, 1 and 16 clients, against the C ping-pong
/// server driven by the very same C client, and against a bare swift-nio server answering the
/// same bytes: the floor for any daemon built on swift-nio.
struct RPCBench {
    let seconds: Double

    struct Result: Decodable {
        var calls: Int
        var errors: Int
        var seconds: Double
        var p50_us: Double
        var p99_us: Double
        var perSecond: Double { Double(calls) / seconds }
    }

    func run(into table: inout BenchTable) async throws {
        FileHandle.standardError.write(Data("rpc: C baseline, bare swift-nio and leadline-audit\n".utf8))
        let stack = try TestStack()
        defer { stack.removeFiles() }
        let cSocket = "\(stack.runtimeDir)/baseline.sock"
        let server = try ChildProcess(
            path: "\(TestStack.binDirectory)/rpc-baseline-c", arguments: ["server", cSocket],
            logPath: stack.root + "/c.log")
        defer { server.signal(SIGKILL) }
        let nioSocket = "\(stack.runtimeDir)/baseline-nio.sock"
        let nioServer = try ChildProcess(
            path: "\(TestStack.binDirectory)/rpc-baseline-nio", arguments: [nioSocket], logPath: stack.root + "/nio.log"
        )
        defer { nioServer.signal(SIGKILL) }
        try waitFor(timeout: 5) {
            FileManager.default.fileExists(atPath: cSocket) && TestStack.isListening(nioSocket)
        }
        try stack.start("audit", extraEnvironment: ["LEADLINE_CHECK_RESULTS": "0"])

        for clients in [1, 16] {
            let results = try Self.interleaved(
                sockets: [cSocket, nioSocket, stack.socketPath("audit")], clients: clients, seconds: seconds)
            let (baseline, bareNIO, daemon) = (results[0], results[1], results[2])
            if clients == 1 {
                table.add(
                    ratioRow(
                        "ping p50, 1 client", daemon.p50_us, baseline.p50_us, "us", target: 1.5, lowerIsBetter: true))
                table.add(
                    ratioRow(
                        "ping p50, 1 client, bare swift-nio (the floor)", bareNIO.p50_us, baseline.p50_us, "us",
                        target: nil, lowerIsBetter: true))
                table.add(
                    ratioRow(
                        "ping p99, 1 client", daemon.p99_us, baseline.p99_us, "us", target: 1.5, lowerIsBetter: true))
                table.add(
                    ratioRow(
                        "ping calls/s, 1 client", daemon.perSecond, baseline.perSecond, "/s", target: nil,
                        lowerIsBetter: false))
            } else {
                table.add(
                    ratioRow(
                        "ping calls/s, 16 clients", daemon.perSecond, baseline.perSecond, "/s", target: 0.5,
                        lowerIsBetter: false))
                table.add(
                    ratioRow(
                        "ping calls/s, 16 clients, bare swift-nio (the floor)", bareNIO.perSecond, baseline.perSecond,
                        "/s", target: nil, lowerIsBetter: false))
                table.add(
                    ratioRow(
                        "ping calls/s, 16 clients, leadline-audit vs bare swift-nio", daemon.perSecond,
                        bareNIO.perSecond, "/s", target: nil, lowerIsBetter: false))
                table.add(
                    ratioRow(
                        "ping p99, 16 clients", daemon.p99_us, baseline.p99_us, "us", target: nil, lowerIsBetter: true))
            }
        }
        try stack.stop("audit")
    }

    /// Each server measured in turns, `rounds` short runs apiece, so that all of them see the
    /// machine's fast and slow moments alike: measured one after the other, a baseline and the
    /// daemon could land in different moments of this shared VM, and their ratio swung from
    /// 1.2x to 8x between runs of the same build. Calls add up; p50 and p99 are the medians
    /// of the rounds' values.
    static func interleaved(sockets: [String], clients: Int, seconds: Double, rounds: Int = 5) throws -> [Result] {
        let slice = max(seconds / Double(rounds), 0.5)
        var runs = Array(repeating: [Result](), count: sockets.count)
        for _ in 0..<rounds {
            for (index, socket) in sockets.enumerated() {
                runs[index].append(try measure(socket: socket, clients: clients, seconds: slice))
            }
        }
        return runs.map { rounds in
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            return Result(
                calls: rounds.reduce(0) { $0 + $1.calls }, errors: rounds.reduce(0) { $0 + $1.errors },
                seconds: rounds.reduce(0) { $0 + $1.seconds }, p50_us: median(rounds.map(\.p50_us)),
                p99_us: median(rounds.map(\.p99_us)))
        }
    }

    /// Runs the C client: `request` (one JSON-RPC line) or service.ping, round trips for `seconds`.
    static func measure(socket: String, clients: Int, seconds: Double, request: String? = nil) throws -> Result {
        let binary = "\(TestStack.binDirectory)/rpc-baseline-c"
        let output = "\(NSTemporaryDirectory())rpc-bench-\(UUID().uuidString).json"
        let arguments = ["client", socket, "\(clients)", "\(seconds)"] + (request.map { [$0] } ?? [])
        let child = try ChildProcess(path: binary, arguments: arguments, logPath: output)
        try child.waitForExit(timeout: seconds + 30)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: output)
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw TestStackError("rpc-baseline-c client printed no result: \(text)")
        }
        return try JSONDecoder().decode(Result.self, from: Data(line.utf8))
    }
}

/// A row whose ratio is Leadline / baseline; `target` is the ratio to stay under (lower is
/// better) or over (higher is better).
func ratioRow(_ name: String, _ value: Double, _ baseline: Double, _ unit: String, target: Double?, lowerIsBetter: Bool)
    -> BenchRow
{
    let ratio = baseline > 0 ? value / baseline : 0
    let digits = value < 100 ? 1 : 0
    let targetText =
        target.map { lowerIsBetter ? "<= \(format($0, "x", digits: 1))" : ">= \(format($0, "x", digits: 1))" } ?? "-"
    let met = target.map { lowerIsBetter ? ratio <= $0 : ratio >= $0 }
    return BenchRow(
        name: name, value: format(value, " \(unit)", digits: digits),
        baseline: format(baseline, " \(unit)", digits: digits),
        ratio: format(ratio, "x", digits: 2), target: targetText, met: met)
}
