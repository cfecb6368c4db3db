import GRDB
import NIOConcurrencyHelpers

/// Counts commits, so metrics and tests can see how many writes shared each fsync.
final class CommitCounter: TransactionObserver, Sendable {
    private let commits = NIOLockedValueBox(0)

    var count: Int { commits.withLockedValue { $0 } }

    /// Commits are reported to every observer; observing no row events keeps GRDB from
    /// installing SQLite's update hook, which called back on every inserted row.
    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { commits.withLockedValue { $0 += 1 } }
    func databaseDidRollback(_ db: Database) {}
}
