import GRDB
import LeadlineStorage

/// ingest's tables. The inbox holds ids only (what Meta's webhook said); personal data lives in
/// `leads` alone, so erasure has exactly one place to remove it from.
enum IngestSchema {
    static let migrations: [Storage.Migration] = [
        Storage.Migration("ingest-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE inbox (
                        leadgen_id TEXT PRIMARY KEY,
                        lead_id TEXT NOT NULL UNIQUE,
                        page_id TEXT NOT NULL,
                        form_id TEXT,
                        ad_id TEXT,
                        adgroup_id TEXT,
                        created_time INTEGER,
                        received_at TEXT NOT NULL,
                        -- received: waiting for the Graph API; ready: lead stored, not yet handed off;
                        -- handedOff; failed: Graph says it does not exist; erased; expired (removed by retention).
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at REAL NOT NULL DEFAULT 0
                    );
                    CREATE INDEX inbox_due ON inbox(state, next_attempt_at);
                    CREATE TABLE leads (
                        id TEXT PRIMARY KEY,
                        form_id TEXT,
                        received_at TEXT NOT NULL,
                        email TEXT,
                        phone TEXT,
                        body TEXT NOT NULL,
                        handed_off INTEGER NOT NULL DEFAULT 0,
                        handoff_attempts INTEGER NOT NULL DEFAULT 0,
                        next_handoff_at REAL NOT NULL DEFAULT 0
                    );
                    CREATE INDEX leads_newest ON leads(received_at, id);
                    CREATE INDEX leads_form ON leads(form_id, received_at, id);
                    CREATE INDEX leads_email ON leads(email);
                    CREATE INDEX leads_phone ON leads(phone);
                    CREATE INDEX leads_pending ON leads(handed_off, next_handoff_at);
                    CREATE TABLE idempotency_keys (key TEXT PRIMARY KEY, lead_id TEXT NOT NULL);
                    CREATE TABLE forms (form_id TEXT PRIMARY KEY, page_id TEXT NOT NULL, last_created_time INTEGER);
                    CREATE TABLE pages_needing_attention (
                        page_id TEXT PRIMARY KEY,
                        reason TEXT NOT NULL,
                        since TEXT NOT NULL,
                        -- the vault version of the refused token: a newer one releases the page
                        token_version INTEGER
                    );
                    CREATE TABLE ingest_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    """)
        },
        // The due queries order ties by received_at: without it in the index, every poll sorted
        // the whole backlog (new rows all share next_attempt_at 0) to take its first few rows.
        Storage.Migration("ingest-v2-due-indexes-cover-order") { db in
            try db.execute(
                sql: """
                    DROP INDEX inbox_due;
                    CREATE INDEX inbox_due ON inbox(state, next_attempt_at, received_at);
                    DROP INDEX leads_pending;
                    CREATE INDEX leads_pending ON leads(handed_off, next_handoff_at, received_at);
                    """)
        },
        // Every acknowledged webhook inserts an inbox row on the one writer every ack waits for.
        // Keyed by its leadgen id, the table is its own primary-key index: one B-tree fewer to
        // update per insert, and the duplicate check reads the table itself.
        Storage.Migration("ingest-v3-inbox-keyed-by-leadgen-id") { db in
            try db.execute(
                sql: """
                    CREATE TABLE inbox_keyed (
                        leadgen_id TEXT PRIMARY KEY,
                        lead_id TEXT NOT NULL UNIQUE,
                        page_id TEXT NOT NULL,
                        form_id TEXT,
                        ad_id TEXT,
                        adgroup_id TEXT,
                        created_time INTEGER,
                        received_at TEXT NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at REAL NOT NULL DEFAULT 0
                    ) WITHOUT ROWID;
                    INSERT INTO inbox_keyed (leadgen_id, lead_id, page_id, form_id, ad_id, adgroup_id, created_time,
                        received_at, state, attempts, next_attempt_at)
                    SELECT leadgen_id, lead_id, page_id, form_id, ad_id, adgroup_id, created_time,
                        received_at, state, attempts, next_attempt_at FROM inbox;
                    DROP TABLE inbox;
                    ALTER TABLE inbox_keyed RENAME TO inbox;
                    CREATE INDEX inbox_due ON inbox(state, next_attempt_at, received_at);
                    """)
        },
        // Only rows waiting for the Graph API are ever looked up as due, and a handed-off row stays
        // in the inbox until retention: an index of every row grew with the whole history, and
        // every acknowledged webhook inserted into it. Partial, it holds the backlog alone; the
        // other state ingest.stats counts (failed, rare) gets its own small one.
        Storage.Migration("ingest-v4-partial-inbox-indexes") { db in
            try db.execute(
                sql: """
                    DROP INDEX inbox_due;
                    CREATE INDEX inbox_due ON inbox(next_attempt_at, received_at) WHERE state = 'received';
                    CREATE INDEX inbox_failed ON inbox(received_at) WHERE state = 'failed';
                    """)
        },
    ]
}
