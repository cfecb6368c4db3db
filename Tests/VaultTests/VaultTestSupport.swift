import Crypto
import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

/// Random, test-made secret values: distinctive enough to search the files for, and compared
/// by digest so that a failing expectation never prints one.
enum Canary {
    static func value() -> String {
        "canary-" + TestStack.randomBytes(24).map { String(format: "%02x", $0) }.joined()
    }

    static func digest(_ value: String?) -> String {
        guard let value else { return "nil" }
        return SHA256.hash(data: Data(value.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// A vault under socket activation with a recording client.
struct VaultFixture {
    let stack: TestStack
    /// Looked up on every use: TestStack.stop retires the old client (closing it asynchronously).
    var client: RecordingClient { stack.client("vault") }

    init(extraConfig: String = "") throws {
        stack = try TestStack(extraConfig: extraConfig)
        try stack.start("vault")
    }

    @discardableResult
    func put(
        _ name: String, _ value: String, readers: [String] = ["ingest", "router"], extra: [String: JSONValue] = [:]
    )
        async throws -> JSONValue
    {
        var params: [String: JSONValue] = [
            "name": .string(name), "value": .string(value), "readers": .array(readers.map { .string($0) }),
        ]
        params.merge(extra) { $1 }
        return try await client.call("vault.putSecret", params: .object(params))
    }

    func value(of name: String) async throws -> String? {
        try await client.call("vault.getSecret", params: ["name": .string(name)])["value"]?.stringValue
    }

    func restart() throws {
        try stack.stop("vault")
        try stack.start("vault")
    }

    var databasePath: String { stack.databasePath("vault") }
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
    return text
}

/// Every file under `directory` with its bytes.
func snapshot(_ directory: String) -> [String: Data] {
    var files: [String: Data] = [:]
    for name in (try? FileManager.default.subpathsOfDirectory(atPath: directory)) ?? [] {
        let path = "\(directory)/\(name)"
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            files[name] = FileManager.default.contents(atPath: path)
        }
    }
    return files
}

extension Data {
    func contains(_ text: String) -> Bool {
        range(of: Data(text.utf8)) != nil
    }
}
