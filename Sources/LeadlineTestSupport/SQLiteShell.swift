import Foundation

/// Runs the sqlite3 command-line shell on a database, for tests that inspect or tamper with a
/// daemon's files directly (the daemon must be stopped). Returns the output without the final
/// newline.
@discardableResult
public func sqlite3(_ database: String, _ sql: String) throws -> String {
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
