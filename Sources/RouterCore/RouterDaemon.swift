import Foundation
import LeadlineHTTP
import LeadlineRPC
import LeadlineRuntime
import LeadlineStorage

/// leadline-router: routes and destinations, the durable delivery outbox, the delivery worker
/// and the connectors to HubSpot, Salesforce, Pipedrive and webhooks.
public enum RouterDaemon {
    public static func build(_ context: DaemonContext) async throws -> DaemonBody {
        let storage = try context.openStorage(migrations: RouterSchema.migrations)
        let spool = context.auditSpool(storage: storage)
        let timing = DeliveryTiming.fromEnvironment()
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.totalTimeout = timing.requestTimeout
        httpConfiguration.keptHandles = timing.concurrency
        httpConfiguration.maxResponseBytes = 4 << 20
        let http = HTTPClient(configuration: httpConfiguration)
        let credentials = CredentialSource(
            client: context.client(for: "vault"), cacheSeconds: timing.credentialCacheSeconds)
        let factory = ConnectorContextFactory(
            http: http, tokens: OAuthTokens(credentials: credentials, http: http), credentials: credentials,
            timing: timing)

        let routeCache = RouteCache()
        let catalog = RouterCatalog(storage: storage, spool: spool, routeCache: routeCache)
        let outbox = Outbox(
            storage: storage, spool: spool, routeCache: routeCache,
            maxAttemptsSeconds: timing.maxAttemptsSecondsOverride ?? Double(context.config.router.maxAttemptsHours)
                * 3600)
        let health = DestinationHealth(timing: timing)
        let worker = DeliveryWorker(
            outbox: outbox, health: health, timing: timing, context: factory, logger: context.logger)

        var table = RPCMethodTable()
        RouterMethodHandlers(catalog: catalog, outbox: outbox, health: health, worker: worker, connectors: factory)
            .register(into: &table)

        let policy = context.config.retention
        let retention = RetentionJob(service: "router", logger: context.logger) { now in
            try await outbox.applyRetention(leadDays: policy.leadDays, logDays: policy.deliveryLogDays, now: now)
        }
        retention.register(RunRouterRetention.self, into: &table)
        await retention.runLoggingFailure()
        return DaemonBody(
            table: table, storage: storage, services: [spool.forwarder(), worker, retention.loop()],
            queueDepths: {
                let counts = try? await outbox.counts()
                return [
                    "auditSpool": await spool.depth(), "auditRejected": await spool.rejectedCount(),
                    "pending": counts?.pending ?? -1,
                    "retrying": counts?.retrying ?? -1,
                    "inflight": worker.inFlight, "dead": counts?.dead ?? -1,
                ]
            })
    }
}

/// The router's methods, each a thin adapter from params to the catalog or the outbox.
struct RouterMethodHandlers: Sendable {
    let catalog: RouterCatalog
    let outbox: Outbox
    let health: DestinationHealth
    let worker: DeliveryWorker
    let connectors: ConnectorContextFactory

    func register(into table: inout RPCMethodTable) {
        let catalog = self.catalog, outbox = self.outbox, health = self.health, worker = self.worker
        let connectors = self.connectors
        table.register(EnqueueLead.self, .anyOf([.services(["ingest"]), .admin])) { params, call in
            let result = try await Self.storing {
                try await outbox.enqueue(lead: params.lead, actor: call.caller.actor)
            }
            if !result.duplicate && !result.deliveries.isEmpty { worker.wakeup.signal() }
            return result
        }
        table.register(PutDestination.self, .admin) { params, call in
            let destination = try await Self.storing {
                try await catalog.putDestination(params, actor: call.caller.actor)
            }
            // New settings may lift whatever held deliveries back (a fixed URL, a higher rate).
            health.forget(destination.id)
            worker.wakeup.signal()
            return destination
        }
        table.register(ListDestinations.self, .admin) { _, _ in
            Items(items: try await Self.storing { try await catalog.listDestinations() }, nextCursor: nil)
        }
        table.register(DeleteDestination.self, .admin) { params, call in
            try await Self.storing { try await catalog.deleteDestination(params.id, actor: call.caller.actor) }
            health.forget(params.id)
            return Deleted(id: params.id, deleted: true)
        }
        table.register(TestDestination.self, .admin) { params, _ in
            guard let destination = try await Self.storing({ try await catalog.destination(params.id) }) else {
                throw RPCError.notFound("no destination '\(params.id)'")
            }
            return await Self.test(destination, connectors.make())
        }
        table.register(PutRoute.self, .admin) { params, call in
            try await Self.storing { try await catalog.putRoute(params, actor: call.caller.actor) }
        }
        table.register(ListRoutes.self, .admin) { _, _ in
            Items(items: try await Self.storing { try await catalog.listRoutes() }, nextCursor: nil)
        }
        table.register(DeleteRoute.self, .admin) { params, call in
            try await Self.storing { try await catalog.deleteRoute(params.id, actor: call.caller.actor) }
            return Deleted(id: params.id, deleted: true)
        }
        table.register(ListDeliveries.self, .admin) { params, _ in
            try await Self.storing { try await outbox.list(params) }
        }
        table.register(RetryDeliveries.self, .admin) { params, call in
            let requeued = try await Self.storing { try await outbox.retry(params, actor: call.caller.actor) }
            if requeued > 0 { worker.wakeup.signal() }
            return RetryDeliveries.Result(requeued: requeued)
        }
        table.register(EraseLeads.self, .admin) { params, call in
            EraseLeads.Result(
                erased: try await Self.storing {
                    try await outbox.erase(leadIds: params.leadIds, receipt: params.receipt, actor: call.caller.actor)
                })
        }
        table.register(RouterStats.self, .admin) { _, _ in
            let counts = try await Self.storing { try await outbox.counts() }
            let now = RouterTime.now()
            let destinations = try await Self.storing { try await catalog.listDestinations() }.map { destination in
                let state = health.snapshot(destination.id, now: now)
                return RouterStats.Result.DestinationHealth(
                    id: destination.id, circuit: state.circuit.rawValue, consecutiveFailures: state.consecutiveFailures)
            }
            return RouterStats.Result(deliveries: counts, destinations: destinations)
        }
    }

    /// Domain errors pass through; anything else from the database is a StorageFailure.
    static func storing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError.storageFailure("the router's database could not be used: \(type(of: error))")
        }
    }

    static func test(_ destination: Destination, _ context: ConnectorContext) async -> TestDestination.Result {
        let started = ContinuousClock.now
        func latency() -> Double {
            let elapsed = ContinuousClock.now - started
            return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        }
        do {
            let response = try await Connectors.connector(for: destination.kind).check(destination, context)
            let ok = (200..<300).contains(response.status)
            return TestDestination.Result(
                id: destination.id, ok: ok, httpStatus: (100...599).contains(response.status) ? response.status : nil,
                latencyMs: latency(), detail: ok ? "authenticated request succeeded" : VendorResponse.message(response))
        } catch let failure as DeliveryFailure {
            return TestDestination.Result(
                id: destination.id, ok: false, httpStatus: failure.httpStatus, latencyMs: latency(),
                detail: failure.message)
        } catch {
            return TestDestination.Result(id: destination.id, ok: false, latencyMs: latency(), detail: "\(error)")
        }
    }
}
