import Foundation
import GRDBSQLite
import LeadlineStorage

/// Durable inserts: raw SQLite (one fsync'd commit per row, and 100 rows per commit) against
/// Storage.groupedWrite with many concurrent writers sharing commits.
struct StorageBench {
    let row = String(repeating: "x", count: 200)

    func run(into table: inout BenchTable) async throws {
        FileHandle.standardError.write(Data("storage: raw SQLite vs Storage.groupedWrite\n".utf8))
        let directory = NSTemporaryDirectory() + "leadline-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let single = try Self.rawSQLite(path: directory + "/raw1.sqlite", rows: 2000, perCommit: 1, rowBytes: 200)
        let batched = try Self.rawSQLite(path: directory + "/raw100.sqlite", rows: 20000, perCommit: 100, rowBytes: 200)
        let grouped = try await groupedWrites(path: directory + "/grouped.sqlite", rows: 20000, writers: 64)

        table.add(
            ratioRow(
                "durable inserts/s, 64 concurrent writers (group commit) vs raw 1/commit", grouped, single, "/s",
                target: 1.5, lowerIsBetter: false))
        table.add(
            ratioRow(
                "durable inserts/s, group commit vs raw 100/commit", grouped, batched, "/s", target: nil,
                lowerIsBetter: false))
    }

    /// Inserts `rows` rows of `rowBytes` bytes through the sqlite3 C API: WAL, synchronous=FULL.
    static func rawSQLite(path: String, rows: Int, perCommit: Int, rowBytes: Int) throws -> Double {
        let table = try RawTable(path: path)
        let row = String(repeating: "x", count: rowBytes)
        let started = ContinuousClock.now
        var written = 0
        while written < rows {
            table.commit(perCommit, of: row)
            written += perCommit
        }
        return Double(written) / (ContinuousClock.now - started).seconds
    }

    /// One fsync'd commit per row, offered `rate` times a second on schedule (open loop, as the
    /// webhook load at that rate), p50 and p99 in milliseconds counted from each row's due time:
    /// the disk's tail as a writer without group commit meets it. Not a floor: a commit slower
    /// than 1/rate leaves the rows behind it waiting, which grouping them avoids.
    static func rawSQLitePaced(path: String, rate: Double, seconds: Double, rowBytes: Int) throws -> (
        p50: Double, p99: Double
    ) {
        let table = try RawTable(path: path)
        let row = String(repeating: "x", count: rowBytes)
        let clock = ContinuousClock()
        let started = clock.now
        let count = Int(rate * seconds)
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        for index in 0..<count {
            let due = started + .nanoseconds(Int64(Double(index) / rate * 1e9))
            if due > clock.now { Thread.sleep(forTimeInterval: (due - clock.now).seconds) }
            table.commit(1, of: row)
            latencies.append((clock.now - due).seconds * 1000)
        }
        latencies.sort()
        return (latencies[latencies.count / 2], latencies[min(latencies.count - 1, latencies.count * 99 / 100)])
    }

    private func groupedWrites(path: String, rows: Int, writers: Int) async throws -> Double {
        let storage = try Storage(
            path: path,
            migrations: [.init("t") { db in try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)") }]
        )
        defer { try? storage.close() }
        let body = row
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for _ in stride(from: writer, to: rows, by: writers) {
                        try await storage.groupedWrite { db in
                            try db.execute(sql: "INSERT INTO t (body) VALUES (?)", arguments: [body])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(rows) / (ContinuousClock.now - started).seconds
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// A table of text rows written through the sqlite3 C API alone (WAL, synchronous=FULL): the
/// raw baselines, with nothing of GRDB or Leadline in between.
private final class RawTable {
    private var db: OpaquePointer?
    private var insert: OpaquePointer?

    init(path: String) throws {
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw StorageError("sqlite3_open \(path)") }
        sqlite3_exec(
            db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)",
            nil, nil, nil)
        sqlite3_prepare_v2(db, "INSERT INTO t (body) VALUES (?)", -1, &insert, nil)
    }

    deinit {
        sqlite3_finalize(insert)
        sqlite3_close(db)
    }

    /// `count` copies of `row` in one transaction, fsync'd at its commit.
    func commit(_ count: Int, of row: String) {
        sqlite3_exec(db, "BEGIN", nil, nil, nil)
        for _ in 0..<count {
            // Bound without a copy (no destructor), so the text must outlive the step.
            row.withCString { text in
                sqlite3_bind_text(insert, 1, text, -1, nil)
                sqlite3_step(insert)
                sqlite3_reset(insert)
            }
        }
        sqlite3_exec(db, "COMMIT", nil, nil, nil)
    }
}
