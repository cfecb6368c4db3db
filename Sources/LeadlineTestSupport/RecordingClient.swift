import Foundation
import LeadlineRPC
import NIOConcurrencyHelpers

/// An RPCClient that appends every request and its reply to the traffic log, so the schema
/// check (Tests/schema/validate_traffic.py, run by `make test`) sees what the tests saw.
public final class RecordingClient: Sendable {
    public let service: String
    public let client: RPCClient

    public init(service: String, socketPath: String) {
        self.service = service
        self.client = RPCClient(socketPath: socketPath, callTimeout: .seconds(60))
    }

    public func call<M: RPCMethod>(_ method: M.Type, _ params: M.Params) async throws -> M.Result {
        let result = try await call(M.name, params: try JSONCoding.value(of: params))
        return try JSONCoding.convert(result, to: M.Result.self)
    }

    /// Calls and records; throws the daemon's RPCError as is.
    public func call(_ method: String, params: JSONValue? = nil) async throws -> JSONValue {
        var request: [String: JSONValue] = ["jsonrpc": .string("2.0"), "method": .string(method), "id": .int(1)]
        if let params { request["params"] = params }
        do {
            let result = try await client.call(method, params: params)
            TrafficLog.shared.record(
                service: service, request: .object(request),
                response: .object(["jsonrpc": .string("2.0"), "id": .int(1), "result": result]))
            return result
        } catch let error as RPCError {
            // Errors the client made up itself (no connection, no reply) are not daemon traffic.
            let local = error.code == -32004 || error.detail.hasPrefix("no reply to")
            if !local {
                TrafficLog.shared.record(
                    service: service, request: .object(request),
                    response: .object([
                        "jsonrpc": .string("2.0"), "id": .int(1), "error": try JSONCoding.value(of: error),
                    ]))
            }
            throw error
        }
    }

    /// Calls expecting a domain error; returns it (and fails the caller's expectation otherwise).
    public func expectError(_ method: String, params: JSONValue? = nil) async -> RPCError? {
        do {
            _ = try await call(method, params: params)
            return nil
        } catch let error as RPCError {
            return error
        } catch {
            return RPCError.internalError("\(error)")
        }
    }
}

/// One JSON Lines file per test process under LEADLINE_TRAFFIC_DIR (default /tmp/leadline-traffic).
public final class TrafficLog: Sendable {
    public static let shared = TrafficLog()
    private let handle: NIOLockedValueBox<FileHandle?>

    init() {
        let directory = ProcessInfo.processInfo.environment["LEADLINE_TRAFFIC_DIR"] ?? "/tmp/leadline-traffic"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/traffic-\(getpid()).jsonl"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        handle = NIOLockedValueBox(FileHandle(forWritingAtPath: path))
    }

    public func record(service: String, request: JSONValue, response: JSONValue?) {
        let entry = JSONValue.object(["service": .string(service), "request": request, "response": response ?? .null])
        guard var line = try? JSONCoding.encode(entry) else { return }
        line.append(UInt8(ascii: "\n"))
        handle.withLockedValue { handle in
            handle?.seekToEndOfFile()
            handle?.write(line)
        }
    }
}
