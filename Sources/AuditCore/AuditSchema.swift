import LeadlineStorage

/// The audit daemon's tables.
/// - events: the chain; `details` holds canonical JSON text, hashed verbatim.
/// - checkpoints: Ed25519-signed (seq, time, hash) every N events or S seconds.
/// - chain_head: the last seq and hash, signed on every append, so that removing or forging
///   events after the latest checkpoint is detected too.
/// - anchor: where the chain resumes after retention pruned its beginning, signed.
/// - spool_marks: per daemon audit spool, the highest spoolSeq appended (resends are skipped).
enum AuditSchema {
    static let migrations: [Storage.Migration] = [
        Storage.Migration("audit-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY,
                        time TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        details TEXT NOT NULL,
                        prevHash TEXT NOT NULL,
                        hash TEXT NOT NULL
                    );
                    CREATE INDEX events_by_subject ON events(subject);
                    CREATE TABLE checkpoints (
                        seq INTEGER PRIMARY KEY,
                        time TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        signature TEXT NOT NULL
                    );
                    CREATE TABLE chain_head (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        seq INTEGER NOT NULL,
                        hash TEXT NOT NULL,
                        signature TEXT NOT NULL
                    );
                    CREATE TABLE anchor (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        seq INTEGER NOT NULL,
                        hash TEXT NOT NULL,
                        time TEXT NOT NULL,
                        signature TEXT NOT NULL
                    );
                    """)
        },
        // The highest spoolSeq appended from each daemon's audit spool: resends are skipped.
        Storage.Migration("audit-v2-spool-marks") { db in
            try db.execute(
                sql: "CREATE TABLE spool_marks (spool_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID")
        },
    ]
}
