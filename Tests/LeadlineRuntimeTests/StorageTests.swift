import Foundation
import GRDB
import LeadlineStorage
import LeadlineTestSupport
import Testing

@Suite struct StorageTests {
    static let migrations = [
        Storage.Migration("items-v1") { db in
            try db.execute(sql: "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
        }
    ]

    func temporaryPath() throws -> String {
        let directory = NSTemporaryDirectory() + "leadline-storage-\(UUID().uuidString)"
        return directory + "/test.sqlite"
    }

    @Test func opensWithWALAndFullSync() async throws {
        let storage = try Storage(path: try temporaryPath(), migrations: Self.migrations)
        let (mode, sync) = try await storage.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        #expect(mode == "wal")
        #expect(sync == 2)  // FULL
        // The writer is the connection whose commits must reach the disk before an answer.
        let writerSync = try await storage.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(writerSync == 2)
        try storage.close()
    }

    @Test func concurrentGroupedWritesShareCommits() async throws {
        let storage = try Storage(path: try temporaryPath(), migrations: Self.migrations)
        let before = storage.commitCount
        let writesBefore = storage.groupedWriteCount
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<400 {
                group.addTask {
                    try await storage.groupedWrite { db in
                        try db.execute(sql: "INSERT INTO items (name) VALUES (?)", arguments: ["item-\(index)"])
                    }
                }
            }
            try await group.waitForAll()
        }
        let rows = try await storage.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") }
        #expect(rows == 400)
        let commits = storage.commitCount - before
        #expect(commits >= 1)
        #expect(commits < 400, "400 concurrent writes took \(commits) commits: nothing was grouped")
        #expect(storage.groupedWriteCount - writesBefore == 400)
        try storage.close()
    }

    @Test func aFailingGroupedWriteRollsBackAloneAndReportsItsError() async throws {
        let storage = try Storage(path: try temporaryPath(), migrations: Self.migrations)
        try await storage.groupedWrite { db in try db.execute(sql: "INSERT INTO items (name) VALUES ('taken')") }
        async let good: Void = storage.groupedWrite { db in
            try db.execute(sql: "INSERT INTO items (name) VALUES ('fresh')")
        }
        async let bad: Void = storage.groupedWrite { db in
            try db.execute(sql: "INSERT INTO items (name) VALUES ('half')")
            try db.execute(sql: "INSERT INTO items (name) VALUES ('taken')")  // UNIQUE violation
        }
        try await good
        var failed = false
        do { try await bad } catch is DatabaseError { failed = true }
        #expect(failed)
        let names = try await storage.read { db in try String.fetchAll(db, sql: "SELECT name FROM items ORDER BY name")
        }
        #expect(names == ["fresh", "taken"])
        try storage.close()
    }

    /// The callback form answers on the writer's thread after the commit, with the same outcome
    /// as the async one: a value, or the error of the one write that failed.
    @Test func aCallbackGroupedWriteReportsAfterItsCommit() async throws {
        let storage = try Storage(path: try temporaryPath(), migrations: Self.migrations)
        let before = storage.commitCount
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for name in ["one", "two", "one"] {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        storage.groupedWrite(
                            { db -> Int64 in
                                try db.execute(sql: "INSERT INTO items (name) VALUES (?)", arguments: [name])
                                return db.lastInsertedRowID
                            },
                            completion: { result in
                                // The commit counter moves before any report runs.
                                guard storage.commitCount > before else {
                                    return continuation.resume(returning: "reported before its commit")
                                }
                                switch result {
                                case .success: continuation.resume(returning: "stored \(name)")
                                case .failure(let error): continuation.resume(returning: "\(type(of: error))")
                                }
                            })
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.sorted() == ["DatabaseError", "stored one", "stored two"])
        let names = try await storage.read { db in try String.fetchAll(db, sql: "SELECT name FROM items ORDER BY name")
        }
        #expect(names == ["one", "two"])
        try storage.close()
    }

    /// Starts a riding insert of `name` and returns once the committer holds it.
    func queueRider(_ name: String, bound: Duration, in storage: Storage) async throws -> Task<Void, any Error> {
        let submitted = storage.groupedWriteCount
        let rider = Task {
            try await storage.groupedWrite(ridingFor: bound, orOnce: 100) { db in
                try db.execute(sql: "INSERT INTO items (name) VALUES (?)", arguments: [name])
            }
        }
        while storage.groupedWriteCount == submitted { try await Task.sleep(for: .milliseconds(10)) }
        return rider
    }

    /// A riding write starts no commit: it waits for another write's, and shares it.
    @Test func aRidingWriteWaitsForAnotherWritesCommitAndSharesIt() async throws {
        let storage = try Storage(path: try temporaryPath(), migrations: Self.migrations)
        let before = storage.commitCount
        let rider = try await queueRider("rider", bound: .seconds(60), in: storage)
        // Queued, it must still wait: a commit of its own would show within this time.
        try await Task.sleep(for: .milliseconds(300))
        let waiting = try await storage.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") }
        #expect(waiting == 0, "the riding write was committed on its own")
        try await storage.groupedWrite { db in try db.execute(sql: "INSERT INTO items (name) VALUES ('driver')") }
        try await rider.value
        let names = try await storage.read { db in try String.fetchAll(db, sql: "SELECT name FROM items ORDER BY name")
        }
        #expect(names == ["driver", "rider"])
        #expect(storage.commitCount - before == 1)
        try storage.close()
    }

    /// With nobody else writing, a rider is committed after its bound, and enough riders
    /// together are committed at once.
    @Test func ridersAreCommittedAfterTheirBoundOrOnceEnoughWait() async throws {
        let storage = try Storage(path: try temporaryPath(), migrations: Self.migrations)
        let started = ContinuousClock.now
        try await storage.groupedWrite(ridingFor: .milliseconds(200), orOnce: 100) { db in
            try db.execute(sql: "INSERT INTO items (name) VALUES ('alone')")
        }
        #expect(ContinuousClock.now - started >= .milliseconds(200))

        let before = storage.commitCount
        let together = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<4 {
                group.addTask {
                    try await storage.groupedWrite(ridingFor: .seconds(60), orOnce: 4) { db in
                        try db.execute(sql: "INSERT INTO items (name) VALUES (?)", arguments: ["rider-\(index)"])
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(ContinuousClock.now - together < .seconds(30))
        #expect(storage.commitCount - before == 1)
        let count = try await storage.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM items") }
        #expect(count == 5)
        try storage.close()
    }

    /// Each rider keeps its own bound: one with a short bound is not held by the longer bound an
    /// earlier rider armed, and it takes the earlier one along.
    @Test func aShortRiderIsNotHeldByALongerOnesBound() async throws {
        let storage = try Storage(path: try temporaryPath(), migrations: Self.migrations)
        let started = ContinuousClock.now
        let patient = try await queueRider("patient", bound: .seconds(120), in: storage)
        try await storage.groupedWrite(ridingFor: .milliseconds(100), orOnce: 100) { db in
            try db.execute(sql: "INSERT INTO items (name) VALUES ('hurried')")
        }
        try await patient.value
        #expect(ContinuousClock.now - started < .seconds(60))
        try storage.close()
    }

    /// Values bound straight through SQLite land as GRDB would have bound them, the count of
    /// changed rows comes back, and a failing statement throws SQLite's error and leaves the
    /// statement usable.
    @Test func directlyBoundStatementsStoreTextNumbersAndNulls() async throws {
        let storage = try Storage(
            path: try temporaryPath(),
            migrations: Self.migrations + [
                Storage.Migration("notes-v1") { db in
                    try db.execute(sql: "CREATE TABLE notes (key TEXT PRIMARY KEY, number INTEGER, remark TEXT)")
                }
            ])
        let (changes, rows) = try await storage.write { db -> ([Int], [[String]]) in
            let insert = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO notes (key, number, remark) VALUES (?, ?, ?)")
            var changes: [Int] = []
            changes.append(try insert.executeDirect([.text("é ünïcode"), .integer(Int64.max), .text(nil)], in: db))
            changes.append(try insert.executeDirect([.text("b"), .integer(nil), .text("two")], in: db))
            changes.append(try insert.executeDirect([.text("b"), .integer(3), .text("again")], in: db))
            let rows = try Row.fetchAll(
                db, sql: "SELECT key, number, remark, typeof(number) AS kind FROM notes ORDER BY key"
            )
            .map { row -> [String] in
                [
                    row["key"], (row["number"] as Int64?).map(String.init) ?? "null",
                    (row["remark"] as String?) ?? "null",
                    row["kind"],
                ]
            }
            return (changes, rows)
        }
        #expect(changes == [1, 1, 0])
        #expect(rows == [["b", "null", "two", "null"], ["é ünïcode", "\(Int64.max)", "null", "integer"]])
        let (failure, afterwards) = try await storage.write { db -> (DatabaseError?, Int) in
            let strict = try db.cachedStatement(sql: "INSERT INTO items (name) VALUES (?)")
            _ = try strict.executeDirect([.text("dup")], in: db)
            var failure: DatabaseError?
            do { _ = try strict.executeDirect([.text("dup")], in: db) } catch let error as DatabaseError {
                failure = error
            }
            return (failure, try strict.executeDirect([.text("fresh")], in: db))
        }
        #expect(failure?.resultCode == .SQLITE_CONSTRAINT)
        #expect(failure?.message?.contains("UNIQUE") == true, "\(String(describing: failure))")
        #expect(afterwards == 1)
        // A value short is refused, not bound as NULL.
        await #expect(throws: DatabaseError.self) {
            try await storage.write { db in
                _ = try db.cachedStatement(sql: "INSERT INTO notes (key, number, remark) VALUES (?, ?, ?)")
                    .executeDirect([.text("c"), .integer(1)], in: db)
            }
        }
        try storage.close()
    }

    @Test func aCorruptFileIsRefusedAndLeftAsItWas() throws {
        let path = try temporaryPath()
        let storage = try Storage(path: path, migrations: Self.migrations)
        try storage.close()
        // Overwrite the middle of the file: the header survives, the b-tree does not.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let garbage = Data(repeating: 0xA5, count: max(0, bytes.count - 100))
        bytes.replaceSubrange(100..<bytes.count, with: garbage)
        try bytes.write(to: URL(fileURLWithPath: path))
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }

        #expect {
            _ = try Storage(path: path, migrations: Self.migrations)
        } throws: { error in
            let text = "\(error)"
            return text.contains(path)
                && (text.contains("integrity") || text.contains("unreadable") || text.contains("cannot open"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    /// Page 1 intact, every table page ruined: opening a pool would write to page 1 (GRDB starts
    /// the WAL with a create and drop), so the check must come first and read-only.
    @Test func damagedTablePagesAreRefusedBeforeAnythingWritesToTheFile() async throws {
        let path = try temporaryPath()
        let storage = try Storage(path: path, migrations: Self.migrations)
        try await storage.write { db in
            for index in 0..<500 {
                try db.execute(sql: "INSERT INTO items (name) VALUES (?)", arguments: ["n\(index)"])
            }
        }
        try storage.close()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.replaceSubrange(4096..<bytes.count, with: Data(repeating: 0xA5, count: bytes.count - 4096))
        try bytes.write(to: URL(fileURLWithPath: path))

        #expect {
            _ = try Storage(path: path, migrations: Self.migrations)
        } throws: { error in
            let text = "\(error)"
            return text.contains("failed its integrity check") && !text.contains("\n")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    @Test func aFileThatIsNotADatabaseIsRefused() throws {
        let path = try temporaryPath()
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let text = Data(String(repeating: "not a database ", count: 400).utf8)
        try text.write(to: URL(fileURLWithPath: path))
        #expect(throws: StorageError.self) { _ = try Storage(path: path, migrations: Self.migrations) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == text)
    }

    @Test func migrationsRunOnceAcrossReopens() throws {
        let path = try temporaryPath()
        try Storage(path: path, migrations: Self.migrations).close()
        let reopened = try Storage(
            path: path,
            migrations: Self.migrations + [
                Storage.Migration("items-v2") { db in try db.execute(sql: "ALTER TABLE items ADD COLUMN note TEXT") }
            ])
        let columns = try reopened.pool.read { db in try db.columns(in: "items").map(\.name) }
        #expect(columns == ["id", "name", "note"])
        try reopened.close()
    }
}
