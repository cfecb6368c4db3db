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
        let clock = AuditClock.fromEnvironment()
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
        let prune: @Sendable () async -> Void = {
            do {
                let removed = try await ledger.prune(olderThanDays: auditDays, now: clock.now())
                if removed > 0 { logger.notice("retention pruned audit events", metadata: ["removed": "\(removed)"]) }
            } catch {
                logger.error("retention pruning failed", metadata: ["error": "\(type(of: error))"])
            }
        }
        // Prune once before serving, so no append can race the start-up pass; then hourly.
        await prune()
        let retention = BackgroundLoop(
            name: "audit-retention", interval: .seconds(3600), logger: logger, runAtStart: false
        ) {
            await prune()
            return false
        }
        return DaemonBody(table: table, storage: storage, services: [checkpoints, retention])
    }
}
