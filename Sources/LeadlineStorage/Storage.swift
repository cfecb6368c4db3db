import Foundation
import GRDB
import Logging

public struct StorageError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One daemon's SQLite database: WAL, synchronous=FULL (whatever is acknowledged survives power
/// loss), busy timeout, versioned migrations, and an integrity check before anything is served.
/// A corrupt file stops the daemon with a clear error; it is never silently recreated.
public final class Storage: Sendable {
    public let path: String
    public let pool: DatabasePool
    private let committer: GroupCommitter
    private let commits = CommitCounter()

    /// A named, ordered schema change. Names are recorded; changing a shipped one is forbidden.
    public struct Migration: Sendable {
        public var name: String
        public var apply: @Sendable (Database) throws -> Void
        public init(_ name: String, _ apply: @escaping @Sendable (Database) throws -> Void) {
            self.name = name
            self.apply = apply
        }
    }

    public init(path: String, migrations: [Migration]) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let existed = FileManager.default.fileExists(atPath: path)
        // SQLite opens an unwritable database read-only without a word, and the first failure
        // then reads like corruption; say what is wrong before an operator restores a backup.
        try Self.requireWritable(directory, what: "state directory")
        if existed { try Self.requireWritable(path, what: "database") }

        // Checked read-only first: opening a pool writes to the file (GRDB creates and drops a
        // table to start the WAL), and that write must never land in a damaged database.
        if existed { try Self.requireIntact(path) }

        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // Deleted personal data is overwritten in the file, not just unlinked from the b-tree.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB's WAL set-up turns the writer to synchronous=NORMAL, where a commit is not
            // fsync'd; an acknowledged write must survive power loss.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        } catch {
            throw StorageError("cannot open database \(path): \(Self.describe(error))")
        }
        var migrator = DatabaseMigrator()
        for migration in migrations {
            migrator.registerMigration(migration.name, migrate: migration.apply)
        }
        do {
            try migrator.migrate(pool)
        } catch {
            throw StorageError("cannot migrate database \(path): \(Self.describe(error))")
        }
        committer = GroupCommitter(pool: pool)
        pool.add(transactionObserver: commits, extent: .databaseLifetime)
    }

    /// Transactions committed since open: with grouped writes, fewer than the writes made.
    public var commitCount: Int { commits.count }
    /// Writes that went through `groupedWrite`, committed or not.
    public var groupedWriteCount: Int { committer.submittedCount }

    /// A write in its own transaction (and its own fsync).
    public func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.write(body)
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(body)
    }

    /// A write that shares its transaction, and so its fsync, with every other grouped write
    /// waiting at the same moment. Each write runs in its own savepoint: one that throws is
    /// rolled back alone. Returns only after the shared commit reached the disk.
    public func groupedWrite<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await committer.submit(body)
    }

    /// A grouped write no caller needs at once, such as a fetched lead whose webhook was answered
    /// long ago: it waits for the next commit another write starts and shares it, so a steady
    /// stream of them costs no fsyncs beside the writes that answer callers. It is committed on
    /// its own after `maxWait` at the latest, or once `enough` such writes wait. Returns after
    /// its commit, like `groupedWrite`.
    public func groupedWrite<T: Sendable>(
        ridingFor maxWait: Duration, orOnce enough: Int, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try await committer.submit(riding: .init(maxWait: maxWait, enough: enough), body)
    }

    /// `groupedWrite` for a caller on an event loop that answers from a callback: no task is
    /// created or resumed. `completion` runs on the writer's thread after the commit; it must
    /// hand the outcome back to the caller's own thread, not work there.
    public func groupedWrite<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        committer.submit(body, completion: completion)
    }

    /// Folds the WAL back into the main file and truncates it, e.g. after an erasure so the
    /// removed bytes do not linger in the log.
    public func checkpointTruncate() async throws {
        _ = try await pool.writeWithoutTransaction { db in
            try db.checkpoint(.truncate)
        }
    }

    /// Folds the WAL into the main file before closing, so a cleanly stopped daemon leaves one
    /// self-contained database file behind.
    public func close() throws {
        try? pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        try pool.close()
    }

    /// PRAGMA quick_check on a read-only connection; the verdict's first lines go in the error,
    /// joined so that it stays the one line an operator sees in `systemctl status`.
    static func requireIntact(_ path: String) throws {
        var configuration = Configuration()
        configuration.readonly = true
        let verdict: String
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            verdict = try queue.read { db in try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "no answer" }
            try queue.close()
        } catch {
            throw StorageError(
                "database \(path) is unreadable (\(describe(error))); restore it from a backup or move it aside — "
                    + "it is never recreated automatically")
        }
        guard verdict == "ok" else {
            let summary = verdict.split(whereSeparator: \.isNewline).prefix(3).joined(separator: "; ")
            throw StorageError(
                "database \(path) failed its integrity check (\(summary.prefix(200))); restore it from a backup or "
                    + "move it aside — it is never recreated automatically")
        }
    }

    /// access(2) rather than the mode bits: it also sees a read-only mount and an immutable
    /// file, which stop root as well.
    static func requireWritable(_ path: String, what: String) throws {
        guard access(path, W_OK) != 0 else { return }
        let reason = String(cString: strerror(errno))
        throw StorageError("\(what) \(path) is not writable (\(reason))")
    }

    static func describe(_ error: Error) -> String {
        if let error = error as? DatabaseError {
            return "\(error.resultCode): \(error.message ?? "no detail")"
        }
        return "\(error)"
    }
}
