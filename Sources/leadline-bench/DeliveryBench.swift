import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport

/// End to end through the router: router.enqueueLead -> durable outbox -> delivery worker ->
/// signed webhook POST to a local receiver. Throughput with 32 concurrent enqueuers, and
/// enqueue-to-delivered latency (the receiver's arrival time) at a steady 500 leads/s.
struct DeliveryBench {
    let seconds: Double
    /// Webhook destinations share the load: each is capped at 1000 requests/s by its rate limit.
    let destinations = 4

    func run(into table: inout BenchTable) async throws {
        FileHandle.standardError.write(Data("delivery: enqueue to webhook receiver, end to end\n".utf8))
        let stack = try TestStack(environment: ["LEADLINE_CHECK_RESULTS": "0", "LEADLINE_ROUTER_CONCURRENCY": "64"])
        defer { stack.removeFiles() }
        let receiver = try await WebhookReceiverDouble(secret: "bench-signing-secret")
        try stack.start("vault")
        try stack.start("router")
        let vault = RPCClient(socketPath: stack.socketPath("vault"))
        let router = RPCClient(socketPath: stack.socketPath("router"))
        _ = try await vault.call(
            "vault.putSecret",
            params: [
                "name": "bench/webhook", "value": "bench-signing-secret", "readers": ["router"],
                "kind": "webhook-signing-secret",
            ])
        for index in 0..<destinations {
            _ = try await router.call(
                "router.putDestination",
                params: [
                    "id": .string("bench-\(index)"), "kind": "webhook", "credential": "bench/webhook",
                    "options": ["url": .string(receiver.url), "ratePerSecond": 1000],
                ])
            _ = try await router.call(
                "router.putRoute",
                params: [
                    "id": .string("bench-\(index)"), "match": ["formId": .string("form-\(index)")],
                    "destinationId": .string("bench-\(index)"), "fieldMap": [:],
                ])
        }

        // Throughput: as many leads as 32 enqueuers send in `seconds`, timed until all delivered.
        // The enqueuers are the C load generator, each lead made unique by its {seq} placeholders:
        // 32 Swift clients took a third of a core of the two that the router needs.
        let routerPID = stack.process("router")?.pid ?? 0
        let cpuBefore = DaemonFootprintBench.cpuSeconds(pid: routerPID)
        let started = ContinuousClock.now
        let enqueue = JSONValue.object([
            "jsonrpc": "2.0", "method": "router.enqueueLead", "id": 1,
            "params": ["lead": Self.lead("t{seq}", form: "form-{seq%\(destinations)}")],
        ])
        let enqueued = try RPCBench.measure(
            socket: stack.socketPath("router"), clients: 32, seconds: seconds,
            request: String(decoding: JSONValueWriter.bytes(enqueue), as: UTF8.self))
        guard enqueued.errors == 0 else { throw BenchError("router.enqueueLead answered \(enqueued.errors) errors") }
        let sent = enqueued.calls
        while receiver.records.count < sent {
            guard (ContinuousClock.now - started).seconds < seconds + 120 else {
                throw BenchError("deliveries stalled")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let throughput = Double(sent) / (ContinuousClock.now - started).seconds
        // CPU rather than time: steadier than a rate on a shared machine, and what a change to
        // the router's work per lead moves.
        let cpuPerLead = (DaemonFootprintBench.cpuSeconds(pid: routerPID) - cpuBefore) / Double(max(sent, 1))
        table.add(
            BenchRow(
                name: "leads delivered end to end per second (webhook double)", value: format(throughput, "/s"),
                baseline: "-", ratio: "-", target: ">= 2000/s", met: throughput >= 2000))
        table.add(
            BenchRow(
                name: "router CPU per lead, enqueue to delivered (\(sent) leads)",
                value: format(cpuPerLead * 1e6, " us"), baseline: "-", ratio: "-", target: "-", met: nil))

        // Latency at 500 leads/s: each lead sent on its own schedule (open loop, so a slow reply
        // does not lower the offered rate), compared with its delivery's first arrival.
        receiver.server.clearRequests()
        let paced = Int(500 * min(seconds, 5))
        let pacedStart = Date()
        let enqueuedAt = try await withThrowingTaskGroup(of: [(String, Date)].self) { group in
            for index in 0..<paced {
                let due = pacedStart.addingTimeInterval(Double(index) / 500)
                if due > Date() { try await Task.sleep(for: .microseconds(Int(due.timeIntervalSinceNow * 1e6))) }
                group.addTask {
                    let at = Date()
                    let reply = try await router.call(
                        "router.enqueueLead", params: ["lead": Self.lead("l\(index)", index)])
                    return (reply["deliveries"]?.arrayValue ?? []).compactMap { $0.stringValue.map { ($0, at) } }
                }
            }
            var all: [String: Date] = [:]
            for try await pairs in group { for (id, at) in pairs { all[id] = at } }
            return all
        }
        let offered = Double(paced) / Date().timeIntervalSince(pacedStart)
        var arrivals: [String: Date] = [:]
        let waitUntil = Date().addingTimeInterval(60)
        repeat {
            try await Task.sleep(for: .milliseconds(100))
            for request in receiver.server.requests {
                if let key = request.header("Idempotency-Key"), arrivals[key] == nil {
                    arrivals[key] = request.receivedAt
                }
            }
        } while arrivals.count < enqueuedAt.count && Date() < waitUntil
        let latencies = enqueuedAt.compactMap { id, at in arrivals[id].map { $0.timeIntervalSince(at) * 1000 } }
            .sorted()
        guard latencies.count == enqueuedAt.count, !latencies.isEmpty else {
            throw BenchError("only \(latencies.count) of \(enqueuedAt.count) paced leads arrived")
        }
        let p50 = latencies[latencies.count / 2]
        let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        table.add(
            BenchRow(
                name: "enqueue to delivered p50 at 500 leads/s (offered \(format(offered, "/s")))",
                value: format(p50, " ms", digits: 1), baseline: "-",
                ratio: "-", target: "-", met: nil))
        table.add(
            BenchRow(
                name: "enqueue to delivered p99 at 500 leads/s", value: format(p99, " ms", digits: 1), baseline: "-",
                ratio: "-", target: "< 100 ms", met: p99 < 100))
        table.add(DaemonFootprintBench.peakUnderLoad("router", of: stack, during: "deliveries, 64 at a time"))
        await router.close()
        await vault.close()
        await receiver.shutdown()
    }

    static func lead(_ tag: String, _ index: Int) -> JSONValue { lead(tag, form: "form-\(index % 4)") }

    static func lead(_ tag: String, form: String) -> JSONValue {
        [
            "id": .string("ld_bench_\(tag)"),
            "source": [
                "platform": "facebook", "pageId": "153125381133", "formId": .string(form),
                "externalId": .string("bench\(tag)"), "isOrganic": false,
            ],
            "createdAt": "2026-11-23T10:13:10Z", "receivedAt": "2026-11-23T10:13:11.204Z",
            "fields": ["email": "bench@example.com", "firstName": "Bench", "lastName": "Lead"], "custom": [:],
            "consents": [], "raw": [:],
        ]
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
