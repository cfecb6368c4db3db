import Foundation
import LeadlineRPC
import Logging

/// What one retention pass removed, by kind ("leads", "deliveries", "events", ...), and when
/// it ran by the daemon's clock. The result of every `<service>.runRetention`.
public struct RetentionReport: Codable, Sendable, Equatable {
    public var ranAt: String
    public var removed: [String: Int]

    public init(ranAt: String, removed: [String: Int]) {
        self.ranAt = ranAt
        self.removed = removed
    }
}

/// `<service>.runRetention {}`: one retention pass now; answers what it removed.
public protocol RunRetentionMethod: RPCMethod where Params == NoParams, Result == RetentionReport {}

/// A daemon's retention: the same pass on a schedule (hourly) and on demand (an admin's
/// `<service>.runRetention`, which `leadctl privacy retention --run` calls). Passes never
/// overlap, so an on-demand run and the scheduled one cannot race each other's deletes.
public actor RetentionJob {
    public typealias Pass = @Sendable (_ now: Date) async throws -> [String: Int]

    private let service: String
    private let clock: DaemonClock
    private let logger: Logger
    private let pass: Pass

    public init(service: String, clock: DaemonClock = .fromEnvironment(), logger: Logger, pass: @escaping Pass) {
        self.service = service
        self.clock = clock
        self.logger = logger
        self.pass = pass
    }

    public func run() async throws -> RetentionReport {
        let now = clock.now()
        let removed = try await pass(now)
        if removed.values.contains(where: { $0 > 0 }) {
            logger.notice(
                "retention removed expired data",
                metadata: removed.reduce(into: [:]) { $0[$1.key] = "\($1.value)" })
        }
        return RetentionReport(ranAt: AuditEvent.timestamp(now), removed: removed)
    }

    /// A pass whose failure is logged (by type only: no data in logs) and retried next time.
    public func runLoggingFailure() async {
        do {
            _ = try await run()
        } catch {
            logger.error("retention pass failed", metadata: ["error": "\(type(of: error))"])
        }
    }

    /// The hourly pass. Daemons run the first one before serving (`runLoggingFailure`), so what
    /// is due at start is gone before any call, and an on-demand run never races it.
    public nonisolated func loop(interval: Duration = .seconds(3600)) -> BackgroundLoop {
        BackgroundLoop(name: "\(service)-retention", interval: interval, logger: logger, runAtStart: false) {
            await self.runLoggingFailure()
            return false
        }
    }

    /// Registers the daemon's `<service>.runRetention` (admin only).
    public nonisolated func register<M: RunRetentionMethod>(_ method: M.Type, into table: inout RPCMethodTable) {
        table.register(method, .admin) { _, _ in
            do {
                return try await self.run()
            } catch let error as RPCError {
                throw error
            } catch {
                throw RPCError.storageFailure(
                    "the retention pass could not complete (\(type(of: error))); it removes all or nothing")
            }
        }
    }
}
