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
        /// Runs the write; returns whether it succeeded and what to tell the caller after the commit.
        var apply: @Sendable (Database) -> (succeeded: Bool, report: @Sendable () -> Void)
        var fail: @Sendable (Error) -> Void
    }

    /// Thrown inside the shared transaction when one job failed, so the batch is redone with
    /// each job behind its own savepoint.
    private struct OneJobFailed: Error {}

    private let pool: DatabasePool
    private let state = NIOLockedValueBox<(queue: [Job], draining: Bool, submitted: Int)>(([], false, 0))

    /// Writes submitted so far: beside the commit count, how many writes shared each fsync.
    var submittedCount: Int { state.withLockedValue { $0.submitted } }

    init(pool: DatabasePool) {
        self.pool = pool
    }

    func submit<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit(body) { continuation.resume(with: $0) }
        }
    }

    /// The same without a task: `completion` runs on the writer's thread once the commit is on
    /// disk (or failed), so it must only hand the outcome on.
    func submit<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        let job = Job(
            apply: { db in
                do {
                    let value = try body(db)
                    return (true, { completion(.success(value)) })
                } catch {
                    return (false, { completion(.failure(error)) })
                }
            },
            fail: { completion(.failure($0)) })
        let startDrain = state.withLockedValue { state -> Bool in
            state.queue.append(job)
            state.submitted += 1
            if state.draining { return false }
            state.draining = true
            return true
        }
        if startDrain { scheduleBatch() }
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
        commit(batch, db)
        scheduleBatch()
    }

    /// Optimistically runs the whole batch without a savepoint per job (two more statements for
    /// every write); jobs rarely fail, and when one does the batch is rolled back and redone
    /// with savepoints, so only that job's writes are undone.
    private func commit(_ batch: [Job], _ db: Database) {
        var reports: [@Sendable () -> Void] = []
        reports.reserveCapacity(batch.count)
        do {
            try db.inTransaction(.immediate) {
                for job in batch {
                    let outcome = job.apply(db)
                    guard outcome.succeeded else { throw OneJobFailed() }
                    reports.append(outcome.report)
                }
                return .commit
            }
        } catch is OneJobFailed {
            reports.removeAll(keepingCapacity: true)
            do {
                try db.inTransaction(.immediate) {
                    for job in batch {
                        var report: (@Sendable () -> Void)?
                        try db.inSavepoint {
                            let outcome = job.apply(db)
                            report = outcome.report
                            return outcome.succeeded ? .commit : .rollback
                        }
                        if let report { reports.append(report) }
                    }
                    return .commit
                }
            } catch {
                for job in batch { job.fail(error) }
                return
            }
        } catch {
            for job in batch { job.fail(error) }
            return
        }
        for report in reports { report() }
    }
}
