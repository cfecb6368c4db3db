import ArgumentParser
import Foundation
import LeadlineConfig
import LeadlineRPC

/// Options every command shares: where the daemons are, and how to print.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Config file (default: $LEADLINE_CONFIG or /etc/leadline/leadline.toml).")
    var config: String?

    @Flag(name: .long, help: "Print machine-readable JSON instead of tables.")
    var json = false

    @Option(name: .long, help: "Seconds to wait for a daemon's answer.")
    var timeout: Int = 60

    public init() {}

    func loadConfig() throws -> LeadlineConfig {
        var environment = ProcessInfo.processInfo.environment
        if let config { environment["LEADLINE_CONFIG"] = config }
        do {
            return try LeadlineConfig.load(environment: environment)
        } catch {
            throw LeadctlFailure.usage("\(error)")
        }
    }

    func connection() throws -> Connection {
        Connection(config: try loadConfig(), timeout: timeout)
    }
}

/// Clients for the daemons' sockets, with errors turned into operator advice and exit codes.
public struct Connection: Sendable {
    public let config: LeadlineConfig
    let timeout: Int

    public static let services = ["vault", "ingest", "router", "audit"]

    public func socketPath(_ service: String) -> String { config.paths.socket(service) }

    public func client(_ service: String) -> RPCClient {
        RPCClient(
            socketPath: socketPath(service), connectTimeout: .seconds(5), callTimeout: .seconds(Int64(timeout)))
    }

    /// One call; RPC errors become LeadctlFailure with the right exit code.
    public func call(_ service: String, _ method: String, _ params: JSONValue? = nil) async throws -> JSONValue {
        let client = client(service)
        defer { Task { await client.close() } }
        do {
            return try await client.call(method, params: params)
        } catch let error as RPCError {
            throw Self.failure(service: service, method: method, error: error, socket: socketPath(service))
        }
    }

    public static func failure(service: String, method: String, error: RPCError, socket: String) -> LeadctlFailure {
        switch error.name {
        case "Unavailable" where error.detail.hasPrefix("cannot connect"):
            return .unreachable(
                "cannot reach leadline-\(service) at \(socket) (\(error.detail.components(separatedBy: ": ").last ?? "")). "
                    + "Is it running? Try: systemctl status leadline-\(service).socket; "
                    + "are you in group 'leadline'? (id -nG)")
        case "PermissionDenied":
            return .failed(
                "\(method): permission denied: \(error.detail). Admin methods need a user listed in [access] admins.")
        case "InvalidParams":
            return .failed("\(method): invalid input: \(error.detail)")
        default:
            return .failed("\(method): \(error.name): \(error.detail)")
        }
    }
}
