import Foundation
import LeadlineHTTP
import LeadlineRuntime
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Sends due deliveries: per destination, as many as its rate limit and circuit admit, up to
/// `concurrency` at once; records every attempt and schedules retries with exponential backoff
/// and jitter, or the delay the vendor asked for. On shutdown it stops claiming and waits for
/// the attempts under way.
final class DeliveryWorker: Service, Sendable, CustomStringConvertible {
    let outbox: Outbox
    let health: DestinationHealth
    let timing: DeliveryTiming
    let context: ConnectorContextFactory
    let logger: Logger
    let wakeup = Wakeup()
    private let running = NIOLockedValueBox(0)

    var description: String { "delivery-worker" }

    init(
        outbox: Outbox, health: DestinationHealth, timing: DeliveryTiming, context: ConnectorContextFactory,
        logger: Logger
    ) {
        self.outbox = outbox
        self.health = health
        self.timing = timing
        self.context = context
        self.logger = logger
    }

    var inFlight: Int { running.withLockedValue { $0 } }

    func run() async throws {
        do {
            let recovered = try await outbox.recoverInterrupted()
            if recovered > 0 {
                logger.notice("requeued deliveries interrupted by a stop", metadata: ["count": "\(recovered)"])
            }
        } catch {
            logger.error("cannot requeue interrupted deliveries", metadata: ["error": "\(error)"])
        }
        let wakeup = self.wakeup
        await withGracefulShutdownHandler {
            // A discarding group: this one lives as long as the daemon, and a plain task group
            // keeps every finished child until it is awaited (about 6 KiB per delivery, held
            // for good). The group's end still waits for the attempts under way.
            await withDiscardingTaskGroup { group in
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    for job in await claimDue() {
                        running.withLockedValue { $0 += 1 }
                        group.addTask {
                            let outcome = await self.send(job)
                            // The slot bounds requests to CRMs, so it is free once the answer is
                            // in; held through the outcome's commit too, each slot sat idle for a
                            // commit cycle per lead. The delivery stays 'inflight' in the database
                            // until that commit, so no claim can pick it up again meanwhile.
                            self.running.withLockedValue { $0 -= 1 }
                            self.wakeup.signal()
                            await self.record(job, outcome)
                        }
                    }
                    await wakeup.wait(timeout: .milliseconds(200))
                }
            }
        } onGracefulShutdown: {
            wakeup.signal()
        }
        logger.debug("delivery worker stopped")
    }

    /// Claims what each destination's rate limit and circuit admit, in one transaction.
    private func claimDue() async -> [DeliveryJob] {
        let now = RouterTime.now()
        var free = timing.concurrency - inFlight
        guard free > 0 else { return [] }
        do {
            var limits: [(destinationId: String, limit: Int)] = []
            for due in try await outbox.dueDestinations(now: now, atMost: free).shuffled() where free > 0 {
                guard let destination = due.destination else {
                    limits.append((due.id, 0))  // deleted: the claim ends its deliveries
                    continue
                }
                let admitted = health.admit(destination, wanted: min(free, due.due), now: now)
                guard admitted > 0 else { continue }
                limits.append((due.id, admitted))
                free -= admitted
            }
            guard !limits.isEmpty else { return [] }
            let jobs = try await outbox.claim(limits, now: now)
            for (id, admitted) in limits where admitted > 0 {
                // Fewer were left than admitted (a retry or an erasure won the race): give the rest back.
                let claimed = jobs.count { $0.destination.id == id }
                if claimed < admitted { health.giveBack(id, admitted - claimed) }
            }
            return jobs
        } catch {
            logger.error("cannot claim deliveries", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// One attempt of one delivery: the CRM's answer, settled into an outcome to record.
    func send(_ job: DeliveryJob) async -> AttemptOutcome {
        let started = ContinuousClock.now
        let connector = Connectors.connector(for: job.destination.kind)
        let outcome: AttemptOutcome
        func latency() -> Double {
            let elapsed = ContinuousClock.now - started
            return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        }
        do {
            let delivered = try await connector.deliver(job, context.make(for: job, outbox: outbox))
            health.recordSuccess(job.destination.id)
            outcome = AttemptOutcome(
                verdict: .delivered(recordId: delivered.recordId), httpStatus: delivered.httpStatus,
                latencyMs: latency())
        } catch let failure as DeliveryFailure {
            outcome = settle(job, failure, latencyMs: latency())
        } catch let error as HTTPClientError {
            let failure = DeliveryFailure(error.isTransient ? .transient : .permanent, status: nil, error.description)
            outcome = settle(job, failure, latencyMs: latency())
        } catch {
            // Vault unreachable or a credential to fix: the operator can repair it, so try again later.
            outcome = settle(job, DeliveryFailure(.transient, status: nil, "\(error)"), latencyMs: latency())
        }
        return outcome
    }

    /// Records an attempt's outcome: the sync log, the delivery's new state, its audit event.
    func record(_ job: DeliveryJob, _ outcome: AttemptOutcome) async {
        do {
            try await outbox.finish(job, outcome)
        } catch {
            // The delivery stays in flight; the next start requeues it and the CRM write is idempotent.
            logger.error("cannot record a delivery attempt", metadata: ["delivery": "\(job.id)", "error": "\(error)"])
        }
    }

    private func settle(_ job: DeliveryJob, _ failure: DeliveryFailure, latencyMs: Double) -> AttemptOutcome {
        let now = RouterTime.now()
        let verdict: AttemptOutcome.Verdict
        switch failure.kind {
        case .permanent:
            // The CRM answered: it is healthy, the record is not.
            health.recordSuccess(job.destination.id)
            verdict = .dead
        case .transient:
            health.recordFailure(job.destination.id, now: now)
            verdict = .retry(at: now + backoff(attempts: job.attempts))
        case .rateLimited(let after):
            health.recordNeutral(job.destination.id)
            let delay = after ?? backoff(attempts: job.attempts)
            health.pause(job.destination.id, until: now + delay)
            verdict = .retry(at: now + delay + Double.random(in: 0...0.1) * max(delay, timing.baseBackoff))
        }
        logger.info(
            "delivery attempt failed",
            metadata: [
                "delivery": "\(job.id)", "destination": "\(job.destination.id)", "attempt": "\(job.attempts)",
                "status": "\(failure.httpStatus.map(String.init) ?? "-")",
            ])
        return AttemptOutcome(
            verdict: verdict, httpStatus: failure.httpStatus, latencyMs: latencyMs, error: failure.message)
    }

    func backoff(attempts: Int) -> Double { Self.backoff(attempts: attempts, timing: timing) }

    /// Exponential with "equal jitter": half the step fixed, half random, capped.
    static func backoff(attempts: Int, timing: DeliveryTiming) -> Double {
        let step = min(timing.maximumBackoff, timing.baseBackoff * pow(2, Double(max(0, attempts - 1))))
        return step / 2 + Double.random(in: 0...(step / 2))
    }
}

/// Builds each attempt's connector context; the progress saver writes to that delivery's row.
struct ConnectorContextFactory: Sendable {
    let http: HTTPClient
    let tokens: OAuthTokens
    let credentials: CredentialSource
    let timing: DeliveryTiming

    func make(for job: DeliveryJob, outbox: Outbox) -> ConnectorContext {
        ConnectorContext(
            http: http, tokens: tokens, credentials: credentials, timing: timing,
            saveProgress: { progress in try await outbox.saveProgress(deliveryId: job.id, progress: progress) })
    }

    func make() -> ConnectorContext {
        ConnectorContext(http: http, tokens: tokens, credentials: credentials, timing: timing, saveProgress: { _ in })
    }
}
