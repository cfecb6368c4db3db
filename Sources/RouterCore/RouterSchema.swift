import GRDB
import LeadlineStorage

/// The router's tables. Destinations and routes are stored as their JSON documents; deliveries
/// are the durable outbox (one row per lead and destination) with their attempt log beside them.
enum RouterSchema {
    static let migrations: [Storage.Migration] = [
        Storage.Migration("router-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE destinations (id TEXT PRIMARY KEY, body TEXT NOT NULL);
                    CREATE TABLE routes (id TEXT PRIMARY KEY, destination_id TEXT NOT NULL, body TEXT NOT NULL);
                    CREATE INDEX routes_destination ON routes(destination_id);
                    CREATE TABLE leads (
                        id TEXT PRIMARY KEY, payload TEXT, erased INTEGER NOT NULL DEFAULT 0,
                        received_at REAL NOT NULL);
                    CREATE TABLE deliveries (
                        id TEXT PRIMARY KEY, lead_id TEXT NOT NULL, destination_id TEXT NOT NULL,
                        route_id TEXT NOT NULL, field_map TEXT NOT NULL, state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL, deadline_at REAL NOT NULL,
                        crm_record_id TEXT, last_error TEXT, progress TEXT,
                        created_at REAL NOT NULL, updated_at REAL NOT NULL);
                    CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at);
                    CREATE INDEX deliveries_lead ON deliveries(lead_id);
                    CREATE INDEX deliveries_created ON deliveries(created_at DESC, id DESC);
                    CREATE TABLE delivery_attempts (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL, at REAL NOT NULL,
                        http_status INTEGER, latency_ms REAL NOT NULL, error TEXT);
                    CREATE INDEX delivery_attempts_delivery ON delivery_attempts(delivery_id, id);
                    """)
        },
        // The due queue per destination, in claim order: claiming read every due row of the
        // index on (state, next_attempt_at) and sorted them, so each claim cost grew with the backlog.
        Storage.Migration("router-v2") { db in
            try db.execute(
                sql: """
                    CREATE INDEX deliveries_queue ON deliveries(destination_id, next_attempt_at, id)
                        WHERE state IN ('pending', 'retrying')
                    """)
        },
    ]
}
