import Foundation
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
///
/// A write no caller is waiting on can ride (`submit(riding:_:)`): it joins the next commit
/// another write starts instead of starting one, within a bound.
final class GroupCommitter: Sendable {
    private struct Job: Sendable {
        /// Runs the write; returns whether it succeeded and what to tell the caller after the commit.
        var apply: @Sendable (Database) -> (succeeded: Bool, report: @Sendable () -> Void)
        var fail: @Sendable (Error) -> Void
    }

    /// Thrown inside the shared transaction when one job failed, so the batch is redone with
    /// each job behind its own savepoint.
    private struct OneJobFailed: Error {}

    /// How long a riding write may wait for someone else's commit, and how many riders are
    /// worth a commit of their own.
    struct Ride: Sendable {
        var maxWait: Duration
        var enough: Int
    }

    private enum RiderNext { case nothing, drain, armTimer }
    private enum RiderTimerNext { case nothing, drain, wait(Duration) }

    private struct State {
        var queue: [Job] = []
        /// Riding writes, taken by the next batch that has a write of its own.
        var riders: [Job] = []
        var draining = false
        /// When the earliest armed rider timer is due; nil when none is armed.
        var ridersDue: ContinuousClock.Instant?
        var submitted = 0
    }

    private let pool: DatabasePool
    private let state = NIOLockedValueBox(State())

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
        let job = Self.job(body, completion: completion)
        let startDrain = state.withLockedValue { state -> Bool in
            state.queue.append(job)
            state.submitted += 1
            if state.draining { return false }
            state.draining = true
            return true
        }
        if startDrain { scheduleBatch() }
    }

    /// A write that starts no commit of its own: it is committed with the next batch that holds
    /// another write, after `ride.maxWait` at the latest, or at once when `ride.enough` riders wait.
    func submit<T: Sendable>(riding ride: Ride, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job = Self.job(body) { continuation.resume(with: $0) }
            let next = state.withLockedValue { state -> RiderNext in
                state.submitted += 1
                state.riders.append(job)
                if state.riders.count >= ride.enough {
                    state.queue.append(contentsOf: state.riders)
                    state.riders = []
                    if state.draining { return .nothing }
                    state.draining = true
                    return .drain
                }
                // A rider is covered by any timer due no later than its own bound.
                let due = ContinuousClock.now + ride.maxWait
                if let armed = state.ridersDue, armed <= due { return .nothing }
                state.ridersDue = due
                return .armTimer
            }
            switch next {
            case .nothing: break
            case .drain: scheduleBatch()
            case .armTimer: armRiderTimer(in: ride.maxWait)
            }
        }
    }

    private static func job<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) -> Job {
        Job(
            apply: { db in
                do {
                    let value = try body(db)
                    return (true, { completion(.success(value)) })
                } catch {
                    return (false, { completion(.failure(error)) })
                }
            },
            fail: { completion(.failure($0)) })
    }

    private func armRiderTimer(in wait: Duration) {
        let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { self.riderTimerFired() }
    }

    /// Once the riders' bound is due, whoever still waits gets a commit now. A timer that fires
    /// with nothing due (superseded by an earlier bound that already fired) does nothing; one
    /// that fires early (Dispatch's clock is not this one) waits out the rest.
    private func riderTimerFired() {
        let next = state.withLockedValue { state -> RiderTimerNext in
            guard let due = state.ridersDue else { return .nothing }
            let now = ContinuousClock.now
            if due > now { return .wait(due - now) }
            state.ridersDue = nil
            guard !state.riders.isEmpty else { return .nothing }
            state.queue.append(contentsOf: state.riders)
            state.riders = []
            if state.draining { return .nothing }
            state.draining = true
            return .drain
        }
        switch next {
        case .nothing: break
        case .drain: scheduleBatch()
        case .wait(let rest): armRiderTimer(in: rest)
        }
    }

    private func scheduleBatch() {
        pool.asyncWriteWithoutTransaction { db in self.commitBatch(db) }
    }

    /// Commits everything queued so far, and the riders, in one transaction, then schedules the
    /// next batch; the drain stops when the queue is empty (riders alone wait on).
    private func commitBatch(_ db: Database) {
        let batch = state.withLockedValue { state -> [Job] in
            if state.queue.isEmpty {
                state.draining = false
                return []
            }
            var batch = state.queue
            state.queue = []
            batch.append(contentsOf: state.riders)
            state.riders = []
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
