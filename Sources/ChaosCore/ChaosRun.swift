import Foundation
import LeadlineRPC
import LeadlineTestSupport

/// The crash test: signed webhooks in, random SIGKILLs of all four daemons meanwhile, then a
/// settled pipeline checked lead by lead. Pass: every acknowledged lead is in the CRM exactly
/// once or visibly dead with a reason, no lead exists twice, the audit chain verifies.
public struct ChaosRun {
    let options: ChaosOptions

    public init(options: ChaosOptions) {
        self.options = options
    }

    public func run() async throws -> ChaosResult {
        let started = ContinuousClock.now
        let random = SeededRandom(seed: options.seed)
        log("chaos: seed \(options.seed), \(options.leads) leads, \(options.senders) senders")
        let chaos = try await ChaosStack.start()
        do {
            return try await run(on: chaos, random: random, started: started)
        } catch {
            // Daemons must not outlive the run, whatever stopped it.
            await chaos.shutdown(keepFiles: true)
            log("chaos: kept the stack's folder for a look: \(chaos.stack.root)")
            throw error
        }
    }

    private func run(on chaos: ChaosStack, random: SeededRandom, started: ContinuousClock.Instant) async throws
        -> ChaosResult
    {
        let load = WebhookLoad(url: chaos.webhookURL, appSecret: ChaosStack.appSecret, options: options, random: random)
        let monkey = ChaosMonkey(supervisor: chaos.supervisor, options: options, random: random)

        let progress = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                let elapsed = Int(secondsSince(started))
                var line = "chaos: \(elapsed)s sent=\(load.sentCount) acknowledged=\(load.acknowledgedCount)"
                line += " crm=\(chaos.hubspot.records.count) requests=\(load.snapshot.requests)"
                line += " kills=\(monkey.killCount)"
                let down = monkey.downNow
                if !down.isEmpty { line += " down=" + down.joined(separator: ",") }
                log(line)
            }
        }
        defer { progress.cancel() }

        async let chaosDone: Void = monkey.run()
        await load.run()
        let loadEnded = ContinuousClock.now
        let share = Int(options.chaosUntilDelivered * 100)
        log("chaos: load done; the chaos goes on until \(share) % of acknowledged leads are in the CRM")
        let enough = Int(Double(load.acknowledgedCount) * options.chaosUntilDelivered)
        let cap = ContinuousClock.now + .milliseconds(Int64(options.drainTimeout * 1000))
        while secondsSince(loadEnded) < options.chaosAfterLoad
            || (chaos.hubspot.records.count < enough && ContinuousClock.now < cap)
        {
            try await Task.sleep(for: .milliseconds(200))
        }
        monkey.stop()
        await chaosDone
        let chaosEnded = ContinuousClock.now
        log("chaos: stopped after \(monkey.killCount) kills; waiting for the pipeline to settle")

        let settled = try await waitUntilSettled(chaos)
        let drainSeconds = secondsSince(chaosEnded)
        let ledger = try await PipelineLedger.read(from: chaos)
        let verification = try await chaos.call("audit", "audit.verify")

        var result = judge(load: load, monkey: monkey, ledger: ledger, chaos: chaos)
        result.auditVerified = verification["ok"]?.boolValue == true
        result.auditEvents = Int(verification["events"]?.intValue ?? 0)
        result.settled = settled
        result.drainSeconds = drainSeconds
        result.seconds = secondsSince(started)

        await chaos.shutdown(keepFiles: !result.passed)
        if !result.passed { log("chaos: kept the stack's folder for a look: \(chaos.stack.root)") }
        return result
    }

    /// Each acknowledged lead's fate, and every sent lead checked for a second existence.
    private func judge(load: WebhookLoad, monkey: ChaosMonkey, ledger: PipelineLedger, chaos: ChaosStack)
        -> ChaosResult
    {
        var result = ChaosResult(options: options)
        result.acknowledged = load.acknowledgedCount
        result.unacknowledged = load.unacknowledged.count
        for id in load.acknowledged {
            switch ledger.outcome(ofLeadgenID: id) {
            case .delivered: result.delivered += 1
            case .dead: result.dead += 1
            case .lost: result.lost += 1
            }
        }
        let sentIDs = (0..<options.leads).map(WebhookLoad.leadgenID)
        result.duplicates = sentIDs.filter(ledger.isDuplicated).count
        result.rewrites = ledger.rewrites
        result.auditRepeats = ledger.auditRepeats
        result.kills = monkey.kills
        result.unexpectedExits = monkey.unexpectedExits
        result.failedRestarts = monkey.failedRestarts
        let counts = load.snapshot
        result.requests = counts.requests
        result.resends = counts.resends
        result.connectionErrors = counts.connectionErrors
        result.refusals = counts.refusals
        result.graphRequests = chaos.graph.requests.count
        result.crmRequests = chaos.hubspot.server.requests.count
        return result
    }

    /// Waits until nothing is in flight anywhere: no inbox row or delivery left to process and
    /// every audit spool forwarded. False when the drain timeout passed first.
    private func waitUntilSettled(_ chaos: ChaosStack) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(options.drainTimeout * 1000))
        var quietPolls = 0
        var lastReport = ContinuousClock.now
        while ContinuousClock.now < deadline {
            let work = (try? await outstandingWork(chaos)) ?? ["unreachable": 1]
            quietPolls = work.isEmpty ? quietPolls + 1 : 0
            // Twice in a row: a lead between two daemons is counted by neither for a moment.
            if quietPolls >= 2 { return true }
            if ContinuousClock.now - lastReport > .seconds(5) {
                lastReport = ContinuousClock.now
                log(
                    "chaos: settling: "
                        + (work.isEmpty
                            ? "quiet"
                            : work.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))
            }
            try await Task.sleep(for: .seconds(1))
        }
        return false
    }

    /// What is still waiting to be processed, by queue; empty when the pipeline is quiet.
    private func outstandingWork(_ chaos: ChaosStack) async throws -> [String: Int] {
        var work: [String: Int] = [:]
        let ingest = try await chaos.call("ingest", "ingest.stats")["inbox"]
        for state in ["received", "fetching", "ready", "waitingToken"] {
            work["ingest." + state] = ingest?[state]?.intValue.map(Int.init) ?? 0
        }
        let router = try await chaos.call("router", "router.stats")["deliveries"]
        for state in ["pending", "inflight", "retrying"] {
            work["router." + state] = router?[state]?.intValue.map(Int.init) ?? 0
        }
        for service in ["vault", "ingest", "router"] {
            let info = try await chaos.call(service, "service.info")
            work[service + ".auditSpool"] = info["queues"]?["auditSpool"]?.intValue.map(Int.init) ?? 0
        }
        return work.filter { $0.value != 0 }
    }
}

func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let elapsed = (ContinuousClock.now - start).components
    return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
}

func log(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
