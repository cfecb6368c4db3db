import GRDB
import NIOConcurrencyHelpers

/// Batches concurrent writes into one transaction: while one commit is on its way to the disk,
/// new writes queue up; the next commit takes all of them. Under load that is one fsync for
/// many writers; alone, a write commits at once with no added wait.
final class GroupCommitter: Sendable {
    private struct Job: Sendable {
        /// Runs the write; returns whether its savepoint commits and what to tell the caller after the commit.
        var apply: @Sendable (Database) -> (commit: Bool, report: @Sendable () -> Void)
        var fail: @Sendable (Error) -> Void
    }

    private let pool: DatabasePool
    private let state = NIOLockedValueBox<(queue: [Job], draining: Bool)>(([], false))

    init(pool: DatabasePool) {
        self.pool = pool
    }

    func submit<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job = Job(
                apply: { db in
                    do {
                        let value = try body(db)
                        return (true, { continuation.resume(returning: value) })
                    } catch {
                        return (false, { continuation.resume(throwing: error) })
                    }
                },
                fail: { continuation.resume(throwing: $0) })
            let startDrain = state.withLockedValue { state -> Bool in
                state.queue.append(job)
                if state.draining { return false }
                state.draining = true
                return true
            }
            if startDrain {
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLockedValue { state -> [Job] in
                let batch = state.queue
                state.queue = []
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                let reports = try await pool.write { db -> [@Sendable () -> Void] in
                    var reports: [@Sendable () -> Void] = []
                    reports.reserveCapacity(batch.count)
                    for job in batch {
                        var report: (@Sendable () -> Void)?
                        try db.inSavepoint {
                            let outcome = job.apply(db)
                            report = outcome.report
                            return outcome.commit ? .commit : .rollback
                        }
                        if let report { reports.append(report) }
                    }
                    return reports
                }
                for report in reports { report() }
            } catch {
                for job in batch { job.fail(error) }
            }
        }
    }
}
