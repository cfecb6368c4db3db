import Foundation
import LeadlineRPC
import LeadlineRuntime
import Logging
import NIOConcurrencyHelpers

/// Hands stored leads to the router (`router.enqueueLead`). A lead counts as handed off only
/// after the router acknowledged it; the router being down or refusing delays, never loses.
final class HandoffWorker: Sendable {
    private let store: IngestStore
    private let router: RPCClient
    private let logger: Logger
    let wakeup = Wakeup()
    private let backoff = Backoff(base: .milliseconds(500), cap: .seconds(60))
    /// Consecutive times the router was unreachable, and until when handoff pauses because of it.
    private let routerPausedUntil = NIOLockedValueBox<(until: ContinuousClock.Instant?, failures: Int)>((nil, 0))
    static let batchSize = 32

    init(store: IngestStore, router: RPCClient, logger: Logger) {
        self.store = store
        self.router = router
        self.logger = logger
    }

    func loop() -> BackgroundLoop {
        BackgroundLoop(name: "router-handoff", interval: .seconds(1), wakeup: wakeup, logger: logger) {
            await self.runOnce()
        }
    }

    func runOnce() async -> Bool {
        if let pausedUntil = routerPausedUntil.withLockedValue({ $0.until }), ContinuousClock.now < pausedUntil {
            return false
        }
        let due: [(id: String, attempts: Int, lead: Lead)]
        do {
            due = try await store.dueForHandoff(limit: Self.batchSize)
        } catch {
            logger.error("cannot read leads due for handoff", metadata: ["error": "\(type(of: error))"])
            return false
        }
        // The batch goes concurrently: the router group-commits the enqueues and ingest the
        // marks, so a burst of leads costs a few fsyncs on each side instead of two per lead.
        let routerUnreachable = await withTaskGroup(of: RPCError?.self) { group in
            for item in due {
                group.addTask { await self.handOff(item) }
            }
            var unreachable: RPCError?
            for await outcome in group where outcome != nil { unreachable = outcome }
            return unreachable
        }
        if let error = routerUnreachable {
            // The router is down: every lead would fail the same way. Pause the whole handoff
            // (the leads keep their place, nothing is written) and log once per pause.
            let failures = routerPausedUntil.withLockedValue { state -> Int in
                state.failures += 1
                state.until = ContinuousClock.now + backoff.delay(afterAttempts: state.failures)
                return state.failures
            }
            logger.log(
                level: failures == 1 || failures % 10 == 0 ? .warning : .debug,
                "router unreachable; leads wait for it", metadata: ["failures": "\(failures)", "error": "\(error)"])
            return false
        }
        routerPausedUntil.withLockedValue { $0 = (nil, 0) }
        return due.count == Self.batchSize
    }

    /// One lead: enqueued, then marked handed off. Returns the error when the router is not
    /// there to answer (the lead keeps its place); any other refusal defers this lead alone.
    private func handOff(_ item: (id: String, attempts: Int, lead: Lead)) async -> RPCError? {
        do {
            let params: JSONValue = ["lead": try JSONCoding.value(of: item.lead)]
            let reply = try await router.call("router.enqueueLead", params: params)
            guard reply["leadId"]?.stringValue == item.id else {
                throw RPCError.internalError("the router acknowledged another lead id")
            }
            try await store.markHandedOff(leadID: item.id)
            return nil
        } catch let error as RPCError where Self.routerUnreachable(error) {
            return error
        } catch {
            let attempts = item.attempts + 1
            let detail = (error as? RPCError)?.description ?? "\(type(of: error))"
            logger.warning(
                "router did not acknowledge the lead; will retry",
                metadata: ["lead": "\(item.id)", "attempts": "\(attempts)", "error": "\(detail)"])
            try? await store.deferHandoff(
                leadID: item.id, attempts: attempts, until: backoff.until(afterAttempts: attempts))
            return nil
        }
    }

    /// Errors that say nothing about the lead, only that the router is not there to answer.
    static func routerUnreachable(_ error: RPCError) -> Bool {
        ["Unavailable", "Timeout", "ShuttingDown", "MethodNotFound"].contains(error.name)
    }
}
