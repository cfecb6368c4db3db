import GRDB
import NIOConcurrencyHelpers

/// Batches concurrent writes into one transaction: while one commit is on its way to the disk,
/// new writes queue up; the next commit takes all of them. Under load that is one fsync for
/// many writers; alone, a write commits at once with no added wait.
///
/// The batches are taken on the writer's own queue, one dispatch per batch: between two commits
/// there is no hop through the cooperative thread pool, whose queue under load (request
/// handlers, deliveries) otherwise left the writer idle while callers waited. Each batch is its
/// own dispatch, so a plain write queued meanwhile still gets its turn.
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
            if startDrain { scheduleBatch() }
        }
    }

    private func scheduleBatch() {
        pool.asyncWriteWithoutTransaction { db in self.commitBatch(db) }
    }

    /// Commits everything queued so far in one transaction, then schedules the next batch; the
    /// drain stops when a batch finds the queue empty.
    private func commitBatch(_ db: Database) {
        let batch = state.withLockedValue { state -> [Job] in
            let batch = state.queue
            state.queue = []
            if batch.isEmpty { state.draining = false }
            return batch
        }
        if batch.isEmpty { return }
        var reports: [@Sendable () -> Void] = []
        reports.reserveCapacity(batch.count)
        do {
            if batch.count == 1 {
                // Alone in its transaction: no savepoint needed, a throwing write rolls it back.
                try db.inTransaction {
                    let outcome = batch[0].apply(db)
                    reports.append(outcome.report)
                    return outcome.commit ? .commit : .rollback
                }
            } else {
                try db.inTransaction {
                    for job in batch {
                        var report: (@Sendable () -> Void)?
                        try db.inSavepoint {
                            let outcome = job.apply(db)
                            report = outcome.report
                            return outcome.commit ? .commit : .rollback
                        }
                        if let report { reports.append(report) }
                    }
                    return .commit
                }
            }
        } catch {
            for job in batch { job.fail(error) }
            scheduleBatch()
            return
        }
        for report in reports { report() }
        scheduleBatch()
    }
}
