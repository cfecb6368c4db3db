import LeadlineRPC
import LeadlineRuntime

/// leadline-router: its storage, methods and workers. Domain methods arrive with their own issue.
public enum RouterDaemon {
    public static func build(_ context: DaemonContext) async throws -> DaemonBody {
        let storage = try context.openStorage(migrations: [])
        let spool = context.auditSpool(storage: storage)
        return DaemonBody(
            table: RPCMethodTable(), storage: storage, services: [spool.forwarder()],
            queueDepths: { ["auditSpool": await spool.depth()] })
    }
}
