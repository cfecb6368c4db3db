import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport

/// Durable webhook acknowledgements: signed one-change POSTs over keep-alive connections to
/// the real ingest daemon, beside raw SQLite commits of the same size measured in this run.
struct WebhookBench {
    let seconds: Double

    func run(into table: inout BenchTable) async throws {
        FileHandle.standardError.write(Data("webhook: durable acks vs raw SQLite\n".utf8))
        let graph = try await GraphAPIDouble(synthesizeUnknownLeads: true)
        let stack = try TestStack(
            extraConfig: "[meta]\ngraph_base_url = \"\(graph.baseURL)\"\n[ingest]\nreconcile_interval_seconds = 0\n")
        defer { stack.removeFiles() }
        let quiet = ["LEADLINE_CHECK_RESULTS": "0"]
        try stack.start("vault", extraEnvironment: quiet)
        try stack.start("ingest", webhook: true, extraEnvironment: quiet)
        let vault = RPCClient(socketPath: stack.socketPath("vault"))
        let secret = "bench-app-secret"
        _ = try await vault.call(
            "vault.putSecret", params: ["name": "meta/app-secret", "value": .string(secret), "readers": ["ingest"]])
        _ = try await vault.call(
            "vault.putSecret",
            params: ["name": "meta/page/153125381133", "value": "EAAB-test-page-token", "readers": ["ingest"]])
        await vault.close()

        let port = try stack.webhookPortReserved()
        // Each phase sends leads of its own, created later than the phase before: a resent id
        // would be a duplicate, which costs ingest neither an inbox row nor a retrieval.
        let single = stack.root + "/requests-single.bin"
        try writeRequests(
            to: single, count: Int(3000 * seconds) + 1000, secret: secret, port: port, base: 720_000_000_000_000,
            firstCreatedTime: 1_764_580_000)
        let steady = stack.root + "/requests-steady.bin"
        try writeRequests(
            to: steady, count: Int(1000 * seconds) + 1000, secret: secret, port: port, base: 710_000_000_000_000,
            firstCreatedTime: 1_764_590_000)
        let many = stack.root + "/requests.bin"
        try writeRequests(
            to: many, count: max(40_000, Int(15_000 * seconds)), secret: secret, port: port,
            base: 700_000_000_000_000,
            firstCreatedTime: 1_764_600_000)
        // The baselines first, while the daemons idle: afterwards ingest would still be retrieving
        // the leads it acknowledged, and they would share the cores and the disk with that.
        let floor = try floorAcks(file: many, secret: secret, root: stack.root)
        let rawPaced = try StorageBench.rawSQLitePaced(
            path: stack.root + "/raw-paced.sqlite", rate: 1000, seconds: seconds, rowBytes: 300)
        let singleResult = try load(port: port, connections: 1, file: single)
        // The steady state the p99 target names: 1,000 webhooks a second, offered on schedule
        // whatever the answers, with retrieval fetching every one of them alongside. Started once
        // retrieval caught up with the leads above, so it measures the steady state, not a backlog.
        try await waitForRetrieval(stack)
        let steadyResult = try load(port: port, connections: 16, file: steady, rate: 1000)
        guard let ingestPID = stack.process("ingest")?.pid else { throw TestStackError("ingest is not running") }
        let cpuBefore = DaemonFootprintBench.cpuSeconds(pid: ingestPID)
        let storageBefore = try await storageCounters(stack)
        let manyResult = try load(port: port, connections: 32, file: many)
        let cpuPerAck = (DaemonFootprintBench.cpuSeconds(pid: ingestPID) - cpuBefore) / Double(max(manyResult.calls, 1))
        let storageAfter = try await storageCounters(stack)
        guard singleResult.errors == 0, steadyResult.errors == 0, manyResult.errors == 0 else {
            throw TestStackError(
                "the webhook answered \(singleResult.errors + steadyResult.errors + manyResult.errors) non-200 responses"
            )
        }
        table.add(DaemonFootprintBench.peakUnderLoad("ingest", of: stack, during: "32 webhook connections"))
        let rawOne = try StorageBench.rawSQLite(
            path: stack.root + "/raw1.sqlite", rows: 2000, perCommit: 1, rowBytes: 300)
        // What group commit could reach at best here: as many rows per fsync as connections.
        let rawGroup = try StorageBench.rawSQLite(
            path: stack.root + "/raw32.sqlite", rows: 32_000, perCommit: 32, rowBytes: 300)
        table.add(
            ratioRow(
                "webhook acks/s, 32 connections, vs raw SQLite 1 fsync'd commit per request", manyResult.perSecond,
                rawOne,
                "/s", target: 1.5, lowerIsBetter: false))
        table.add(
            ratioRow(
                "webhook acks/s, 32 connections, vs raw SQLite group commit (32 rows per fsync'd commit)",
                manyResult.perSecond, rawGroup, "/s", target: nil, lowerIsBetter: false))
        table.add(
            ratioRow(
                "webhook acks/s, 32 connections, vs bare swift-nio HTTP + HMAC + SQLite group commit (the floor)",
                manyResult.perSecond, floor.perSecond, "/s", target: nil, lowerIsBetter: false))
        table.add(
            BenchRow(
                name: "webhook acks/s, 32 connections, the floor alone", value: format(floor.perSecond, " /s"),
                baseline: "-", ratio: "-", target: ">= 10000 /s", met: floor.perSecond >= 10_000))
        table.add(
            BenchRow(
                name: "webhook acks/s, 32 connections", value: format(manyResult.perSecond, " /s"), baseline: "-",
                ratio: "-",
                target: ">= 10000 /s", met: manyResult.perSecond >= 10_000))
        // Retrieval's own writes (a few a second while webhooks keep it waiting) count as well.
        let commits = storageAfter.commits - storageBefore.commits
        table.add(
            BenchRow(
                name: "ingest grouped writes per fsync'd commit, 32 connections",
                value: format(
                    Double(storageAfter.groupedWrites - storageBefore.groupedWrites) / Double(max(commits, 1)), "",
                    digits: 1),
                baseline: "-", ratio: "-", target: "-", met: nil))
        // CPU rather than a rate: steadier on a shared machine, and with the load generator on the
        // same two cores, what an ack costs decides how many fit.
        table.add(
            ratioRow(
                "ingest CPU per ack (retrieval's included), 32 connections, vs the floor's", cpuPerAck * 1e6,
                floor.cpuPerRequest * 1e6, "us",
                target: nil, lowerIsBetter: true))
        table.add(
            BenchRow(
                name: "webhook ack p50 / p99, 32 connections",
                value:
                    "\(format(manyResult.p50_us / 1000, "", digits: 2)) / \(format(manyResult.p99_us / 1000, " ms", digits: 2))",
                baseline: "-", ratio: "-", target: "-", met: nil))
        table.add(
            ratioRow(
                "webhook acks/s, 1 connection, vs raw SQLite 1 commit per request", singleResult.perSecond, rawOne,
                "/s",
                target: nil, lowerIsBetter: false))
        table.add(
            BenchRow(
                name: "webhook ack p99, 1 connection", value: format(singleResult.p99_us / 1000, " ms", digits: 2),
                baseline: "-", ratio: "-", target: "-", met: nil))
        table.add(
            BenchRow(
                name:
                    "webhook ack p50 at 1,000 requests/s (open loop, 16 connections, \(format(steadyResult.perSecond, "/s")) answered)",
                value: format(steadyResult.p50_us / 1000, " ms", digits: 2), baseline: "-", ratio: "-", target: "-",
                met: nil))
        // Beside raw SQLite committing (and fsyncing) each request on its own at the same rate:
        // the disk's tail as a design without group commit would meet it.
        table.add(
            BenchRow(
                name: "webhook ack p99 at 1,000 requests/s (open loop, retrieval alongside), vs raw SQLite one "
                    + "fsync'd commit per request at 1,000/s",
                value: format(steadyResult.p99_us / 1000, " ms", digits: 2),
                baseline: format(rawPaced.p99, " ms", digits: 2),
                ratio: format(steadyResult.p99_us / 1000 / max(rawPaced.p99, 0.001), "x", digits: 2), target: "< 10 ms",
                met: steadyResult.p99_us < 10_000))
        try stack.stop("ingest")
        try stack.stop("vault")
        await graph.shutdown()
    }

    /// The same requests against webhook-baseline-nio: what the libraries and SQLite allow here
    /// before any of Leadline's own work (JSON, dedup, retrieval, audit).
    private func floorAcks(file: String, secret: String, root: String) throws -> (
        perSecond: Double, cpuPerRequest: Double
    ) {
        let port = try TestStack.freePort()
        let log = root + "/webhook-floor.log"
        let server = try ChildProcess(
            path: "\(TestStack.binDirectory)/webhook-baseline-nio",
            arguments: ["\(port)", root + "/webhook-floor.sqlite", secret], logPath: log)
        defer { server.signal(SIGKILL) }
        try waitFor(timeout: 10) { (try? String(contentsOfFile: log, encoding: .utf8))?.contains("listening") == true }
        let cpuBefore = DaemonFootprintBench.cpuSeconds(pid: server.pid)
        let result = try load(port: port, connections: 32, file: file)
        let cpu = DaemonFootprintBench.cpuSeconds(pid: server.pid) - cpuBefore
        guard result.errors == 0 else {
            throw TestStackError("the webhook floor answered \(result.errors) non-200 responses")
        }
        return (result.perSecond, cpu / Double(max(result.calls, 1)))
    }

    /// ingest's commits and grouped writes so far, from its service.metrics.
    private func storageCounters(_ stack: TestStack) async throws -> (commits: Int, groupedWrites: Int) {
        let ingest = RPCClient(socketPath: stack.socketPath("ingest"))
        defer { Task { await ingest.close() } }
        let text = try await ingest.call("service.metrics", params: nil)["text"]?.stringValue ?? ""
        func counter(_ name: String) -> Int {
            let line = text.split(separator: "\n").first { $0.hasPrefix(name + "{") }
            return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
        }
        return (counter("leadline_storage_commits_total"), counter("leadline_storage_grouped_writes_total"))
    }

    /// Until ingest has fetched every lead acknowledged so far (at most a minute).
    private func waitForRetrieval(_ stack: TestStack) async throws {
        let ingest = RPCClient(socketPath: stack.socketPath("ingest"))
        defer { Task { await ingest.close() } }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let stats = try await ingest.call("ingest.stats", params: nil)
            if (stats["inbox"]?["received"]?.intValue ?? 0) == 0 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        FileHandle.standardError.write(Data("webhook: retrieval still behind after 60 s; measuring anyway\n".utf8))
    }

    /// The C load generator: closed loop (each connection sends its next request on the answer),
    /// or open at `rate` requests per second across all connections.
    private func load(port: Int, connections: Int, file: String, rate: Double? = nil) throws -> RPCBench.Result {
        let output = "\(NSTemporaryDirectory())webhook-bench-\(UUID().uuidString).json"
        var arguments = ["http-client", "127.0.0.1", "\(port)", "\(connections)", "\(seconds)", file]
        if let rate { arguments.append("\(rate)") }
        let child = try ChildProcess(
            path: "\(TestStack.binDirectory)/rpc-baseline-c", arguments: arguments, logPath: output)
        try child.waitForExit(timeout: seconds + 60)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: output)
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw TestStackError("the HTTP load generator printed no result: \(text)")
        }
        return try JSONDecoder().decode(RPCBench.Result.self, from: Data(line.utf8))
    }

    /// Raw HTTP/1.1 requests, each a distinct leadgen id, signed as Meta signs them.
    private func writeRequests(
        to path: String, count: Int, secret: String, port: Int, base: UInt64, firstCreatedTime: Int
    ) throws {
        var out = Data()
        for index in 0..<count {
            // Created a thousand to the second, as a busy form's leads would be: each second's
            // first lead moves the form's newest created_time on.
            let body = MetaWebhook.body(
                leadgenIDs: [String(base + UInt64(index))], createdTime: firstCreatedTime + index / 1000)
            let signature = MetaWebhook.signature(of: body, appSecret: secret)
            var request = Data(
                "POST /webhooks/meta HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\nX-Hub-Signature-256: \(signature)\r\nContent-Length: \(body.count)\r\n\r\n"
                    .utf8)
            request.append(body)
            out.append(Data("\(request.count)\n".utf8))
            out.append(request)
        }
        try out.write(to: URL(fileURLWithPath: path))
    }
}
