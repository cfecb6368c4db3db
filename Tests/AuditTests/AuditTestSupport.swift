import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// An audit daemon under socket activation with a recording client.
struct AuditFixture {
    let stack: TestStack
    /// Looked up on every use: TestStack.stop retires the old client (closing it asynchronously).
    var client: RecordingClient { stack.client("audit") }

    init(extraConfig: String = "", environment: [String: String] = [:]) throws {
        stack = try TestStack(extraConfig: extraConfig, environment: environment)
        try stack.start("audit")
    }

    /// Appends `count` events in batches of `batch`, each with a distinct subject.
    func appendEvents(_ count: Int, batch: Int = 50, prefix: String = "lead", time: String? = nil) async throws {
        var done = 0
        while done < count {
            let size = min(batch, count - done)
            let events: [JSONValue] = (0..<size).map { offset in
                let index = done + offset
                var event: [String: JSONValue] = [
                    "action": index % 3 == 0 ? "delivery.sent" : "ingest.leadStored",
                    "subject": .string("\(prefix)-\(index)"), "outcome": "ok",
                    "details": ["attempt": .int(Int64(index % 5)), "note": .string("line \"\(index)\"\n\\ü")],
                ]
                if let time { event["time"] = .string(time) }
                return .object(event)
            }
            _ = try await client.call("audit.append", params: ["events": .array(events)])
            done += size
        }
    }

    func query(_ params: JSONValue = [:]) async throws -> [JSONValue] {
        try await client.call("audit.query", params: params)["items"]?.arrayValue ?? []
    }

    var databasePath: String { stack.databasePath("audit") }
}

/// Runs the sqlite3 command-line shell on a database (the daemon must be stopped).
@discardableResult
func sqlite3(_ database: String, _ sql: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    process.arguments = [database, sql]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else { throw TestStackError("sqlite3 failed: \(text)") }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

func timestamp(daysFromNow days: Double, from now: Date = Date()) -> String {
    var style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    style.timeZone = .gmt
    return now.addingTimeInterval(days * 86_400).formatted(style)
}

/// Copies a database with its WAL (which may hold committed pages not yet in the main file),
/// replacing whatever was at the destination.
func copyDatabase(_ source: String, to destination: String) throws {
    let files = FileManager.default
    for suffix in ["", "-wal", "-shm"] {
        try? files.removeItem(atPath: destination + suffix)
    }
    try files.copyItem(atPath: source, toPath: destination)
    if files.fileExists(atPath: source + "-wal") {
        try files.copyItem(atPath: source + "-wal", toPath: destination + "-wal")
    }
}
