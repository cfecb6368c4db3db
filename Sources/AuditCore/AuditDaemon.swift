import Foundation
import LeadlineRPC
import LeadlineRuntime

/// leadline-audit: the tamper-evident log. Appends come from the other daemons' spools (and
/// admins); the actor is whoever the kernel says is on the socket. It keeps no spool of its
/// own and never forwards to itself.
public enum AuditDaemon {
    public static func build(_ context: DaemonContext) async throws -> DaemonBody {
        let signer = try AuditSigner(rawPrivateKey: context.credentials.read("audit-signing-key", exactBytes: 32))
        let storage = try context.openStorage(migrations: AuditSchema.migrations, withAuditSpool: false)
        let clock = DaemonClock.fromEnvironment()
        let ledger = AuditLedger(
            storage: storage, signer: signer, clock: clock,
            checkpointEveryEvents: context.config.audit.checkpointEveryEvents, logger: context.logger)
        var table = RPCMethodTable()
        AuditHandlers.register(into: &table, ledger: ledger)

        let logger = context.logger
        let checkpointIfBehind: @Sendable () async -> Void = {
            do {
                try await ledger.checkpointIfBehind()
            } catch {
                logger.error("cannot sign a checkpoint", metadata: ["error": "\(type(of: error))"])
            }
        }
        // The start-up pass runs before serving: run from the loop, it raced the first appends.
        await checkpointIfBehind()
        let checkpoints = BackgroundLoop(
            name: "audit-checkpoint", interval: .seconds(Int64(context.config.audit.checkpointEverySeconds)),
            logger: logger, runAtStart: false
        ) {
            await checkpointIfBehind()
            return false
        }
        let auditDays = context.config.retention.auditDays
        let retention = RetentionJob(service: "audit", clock: clock, logger: logger) { now in
            ["events": try await ledger.prune(olderThanDays: auditDays, now: now)]
        }
        retention.register(RunAuditRetention.self, into: &table)
        // Prune once before serving, so no append can race the start-up pass; then hourly.
        await retention.runLoggingFailure()
        return DaemonBody(table: table, storage: storage, services: [checkpoints, retention.loop()])
    }
}
