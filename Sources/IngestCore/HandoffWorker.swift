import Foundation
import LeadlineRPC
import LeadlineRuntime
import Logging

/// Hands stored leads to the router (`router.enqueueLead`). A lead counts as handed off only
/// after the router acknowledged it; the router being down or refusing delays, never loses.
final class HandoffWorker: Sendable {
    private let store: IngestStore
    private let router: RPCClient
    private let logger: Logger
    let wakeup = Wakeup()
    private let backoff = Backoff(base: .milliseconds(500), cap: .seconds(60))
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
        let due: [(id: String, attempts: Int, lead: Lead)]
        do {
            due = try await store.dueForHandoff(limit: Self.batchSize)
        } catch {
            logger.error("cannot read leads due for handoff", metadata: ["error": "\(type(of: error))"])
            return false
        }
        var handedOff = 0
        for item in due {
            do {
                let params: JSONValue = ["lead": try JSONCoding.value(of: item.lead)]
                let reply = try await router.call("router.enqueueLead", params: params)
                guard reply["leadId"]?.stringValue == item.id else {
                    throw RPCError.internalError("the router acknowledged another lead id")
                }
                try await store.markHandedOff(leadID: item.id)
                handedOff += 1
            } catch {
                let attempts = item.attempts + 1
                let detail = (error as? RPCError)?.description ?? "\(type(of: error))"
                logger.log(
                    level: attempts == 1 || attempts % 10 == 0 ? .warning : .debug,
                    "router did not acknowledge the lead; will retry",
                    metadata: ["lead": "\(item.id)", "attempts": "\(attempts)", "error": "\(detail)"])
                try? await store.deferHandoff(
                    leadID: item.id, attempts: attempts, until: backoff.until(afterAttempts: attempts))
            }
        }
        return due.count == Self.batchSize && handedOff > 0
    }
}
