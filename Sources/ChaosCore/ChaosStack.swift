import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport

/// The four real daemons on sockets this process holds (see SocketActivationSupervisor), the
/// Graph API double answering any leadgen id, and the HubSpot double as the one destination,
/// configured through the daemons' own RPC as an operator (or systemd/seed-local.sh) would.
final class ChaosStack: Sendable {
    static let appSecret = "chaos-app-secret"
    static let hubSpotCredential = "hubspot/chaos"
    static let hubSpotToken = "hubspot-chaos-token"
    /// The CRM property that carries Leadline's lead id: two ids for one email is a lead created twice.
    static let leadIDProperty = "leadline_id"

    let stack: TestStack
    let supervisor: SocketActivationSupervisor
    let graph: GraphAPIDouble
    let hubspot: HubSpotDouble
    let clients: [String: RPCClient]

    static func start() async throws -> ChaosStack {
        let graph = try await GraphAPIDouble(synthesizeUnknownLeads: true)
        let hubspot = try await HubSpotDouble(accessToken: hubSpotToken)
        let stack = try TestStack(
            extraConfig: """
                [meta]
                graph_base_url = "\(graph.baseURL)"

                [ingest]
                reconcile_interval_seconds = 0
                """,
            environment: [
                // Schema checks of every result cost CPU the chaos needs; the tests run them.
                "LEADLINE_CHECK_RESULTS": "0",
                // Shorter retry clocks, so leads held back by a dead daemon settle within the run.
                "LEADLINE_ROUTER_BACKOFF_BASE_MS": "200",
                "LEADLINE_ROUTER_CIRCUIT_COOLDOWN_MS": "1000",
            ])
        let supervisor = try SocketActivationSupervisor(stack: stack)
        for service in SocketActivationSupervisor.allServices { try supervisor.start(service) }
        let chaos = ChaosStack(stack: stack, supervisor: supervisor, graph: graph, hubspot: hubspot)
        do {
            try await chaos.seed()
        } catch {
            await chaos.shutdown(keepFiles: true)
            throw error
        }
        return chaos
    }

    private init(
        stack: TestStack, supervisor: SocketActivationSupervisor, graph: GraphAPIDouble, hubspot: HubSpotDouble
    ) {
        self.stack = stack
        self.supervisor = supervisor
        self.graph = graph
        self.hubspot = hubspot
        var clients: [String: RPCClient] = [:]
        for service in SocketActivationSupervisor.allServices {
            clients[service] = RPCClient(socketPath: stack.socketPath(service), callTimeout: .seconds(30))
        }
        self.clients = clients
    }

    var webhookURL: String { "http://127.0.0.1:\(supervisor.webhookPort ?? 0)/webhooks/meta" }

    func call(_ service: String, _ method: String, _ params: JSONValue? = nil) async throws -> JSONValue {
        try await clients[service]!.call(method, params: params)
    }

    /// Secrets, the HubSpot destination and one route for every lead.
    private func seed() async throws {
        let secrets: [(name: String, value: String, reader: String, kind: String)] = [
            ("meta/app-secret", Self.appSecret, "ingest", "meta-app-secret"),
            ("meta/verify-token", "chaos-verify-token", "ingest", "meta-verify-token"),
            ("meta/page/\(MetaWebhook.defaultPageID)", "EAAB-chaos-page-token", "ingest", "meta-page-token"),
            (Self.hubSpotCredential, Self.hubSpotToken, "router", "hubspot-token"),
        ]
        for secret in secrets {
            _ = try await call(
                "vault", "vault.putSecret",
                [
                    "name": .string(secret.name), "value": .string(secret.value), "readers": [.string(secret.reader)],
                    "kind": .string(secret.kind),
                ])
        }
        _ = try await call(
            "router", "router.putDestination",
            [
                "id": "hubspot-chaos", "kind": "hubspot", "baseUrl": .string(hubspot.baseURL),
                "credential": .string(Self.hubSpotCredential),
                // HubSpot's own limit (10/s) would make the run about throttling, not crashes.
                "options": ["ratePerSecond": 1000],
            ])
        var fieldMap: [String: JSONValue] = ["email": "email", "firstname": "firstName", "lastname": "lastName"]
        fieldMap[Self.leadIDProperty] = "id"
        _ = try await call(
            "router", "router.putRoute",
            ["id": "all-to-hubspot", "match": [:], "destinationId": "hubspot-chaos", "fieldMap": .object(fieldMap)])
    }

    /// Stops the daemons (SIGTERM) and the doubles; keeps the folder when asked (a failed run).
    func shutdown(keepFiles: Bool) async {
        supervisor.stopAll()
        for client in clients.values { await client.close() }
        await graph.shutdown()
        await hubspot.shutdown()
        if !keepFiles { stack.removeFiles() }
    }
}
