import Foundation
import LeadlineHTTP
import LeadlineRPC
import LeadlineRuntime
import LeadlineSystemd
import NIOCore
import ServiceLifecycle

/// leadline-ingest: the durable inbox, the webhook server, the Graph API retrieval, router
/// handoff and reconciliation workers, and the ingest.* methods.
public enum IngestDaemon {
    public static func build(_ context: DaemonContext) async throws -> DaemonBody {
        let config = context.config
        let storage = try context.openStorage(migrations: IngestSchema.migrations)
        let spool = context.auditSpool(storage: storage)
        let store = IngestStore(storage: storage, spool: spool)
        let secrets = VaultSecretSource(client: context.client(for: "vault"))
        let graph = GraphClient(
            http: HTTPClient(), baseURL: config.meta.graphBaseURL, version: config.meta.graphVersion)

        let handoff = HandoffWorker(store: store, router: context.client(for: "router"), logger: context.logger)
        let intake = IntakeLoad()
        let retrieval = RetrievalWorker(
            store: store, graph: graph, secrets: secrets, meta: config.meta, logger: context.logger,
            handoffWakeup: handoff.wakeup, intake: intake)
        let reconciler = Reconciler(
            store: store, graph: graph, secrets: secrets, meta: config.meta, configuredForms: config.ingest.forms,
            logger: context.logger, handoffWakeup: handoff.wakeup)

        let endpoints = WebhookEndpoints(
            store: store, secrets: secrets, meta: config.meta, logger: context.logger,
            retrievalWakeup: retrieval.wakeup,
            intake: intake)
        let webhookFD: CInt
        if let adopted = context.takeListenFD("webhook") {
            webhookFD = adopted
            context.logger.info("adopted the webhook socket from systemd")
        } else {
            webhookFD = try ListeningSocket.bindTCP(config.ingest.webhookListen)
            context.logger.info("bound the webhook socket", metadata: ["listen": "\(config.ingest.webhookListen)"])
        }
        let server = try await WebhookServer.start(
            listeningOn: webhookFD, endpoints: endpoints,
            limits: .init(maxBodyBytes: config.ingest.maxBodyBytes, requestTimeout: requestTimeout()),
            logger: context.logger)

        var table = RPCMethodTable()
        IngestMethodHandlers(store: store, retrieval: retrieval, handoff: handoff, reconciler: reconciler)
            .register(into: &table)

        let leadDays = config.retention.leadDays
        let retention = RetentionJob(service: "ingest", logger: context.logger) { now in
            try await store.applyRetention(leadDays: leadDays, now: now)
        }
        retention.register(RunIngestRetention.self, into: &table)
        await retention.runLoggingFailure()

        var services: [any Service] = [spool.forwarder(), handoff.loop(), retrieval.loop(), retention.loop()]
        if config.ingest.reconcileIntervalSeconds > 0 {
            services.append(reconciler.loop(interval: config.ingest.reconcileIntervalSeconds))
        }
        // Last, so it stops first on shutdown: no webhook is accepted once the workers stop.
        services.append(WebhookServerService(server: server))
        return DaemonBody(
            table: table, storage: storage, services: services,
            queueDepths: {
                let counts = try? await store.counts()
                return [
                    "auditSpool": await spool.depth(), "auditRejected": await spool.rejectedCount(),
                    "inboxReceived": counts?.received ?? -1,
                    "handoffPending": counts?.ready ?? -1, "waitingToken": counts?.waitingToken ?? -1,
                ]
            })
    }

    /// How long a webhook client has to send a complete request (and how long an idle keep-alive
    /// connection stays open). LEADLINE_WEBHOOK_TIMEOUT_MS shortens it for tests.
    static func requestTimeout() -> TimeAmount {
        if let text = ProcessInfo.processInfo.environment["LEADLINE_WEBHOOK_TIMEOUT_MS"], let millis = Int64(text),
            millis > 0
        {
            return .milliseconds(millis)
        }
        return .seconds(15)
    }
}
