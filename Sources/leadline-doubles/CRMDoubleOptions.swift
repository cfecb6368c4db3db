import Foundation
import LeadlineTestDoubles

/// `--hubspot-port N`, `--salesforce-port N`, `--pipedrive-port N`, `--webhook-port N` start the CRM
/// doubles (for `make run` and the bench); `--hubspot-token`, `--pipedrive-token`, `--webhook-secret`
/// set what they accept (defaults: the dev placeholders systemd/seed-local.sh stores in the vault
/// for `make run`). Kept apart from the Graph API options so each double's flags live with it.
enum CRMDoubleOptions {
    struct Started {
        var hubspot: HubSpotDouble?
        var salesforce: SalesforceDouble?
        var pipedrive: PipedriveDouble?
        var webhook: WebhookReceiverDouble?
    }

    static func value(_ flag: String, in arguments: [String]) -> String? {
        guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
        return arguments[index + 1]
    }

    static func port(_ flag: String, in arguments: [String]) throws -> Int? {
        guard let text = value(flag, in: arguments) else { return nil }
        guard let port = Int(text), (0...65535).contains(port) else {
            throw DoubleOptionError("\(flag) needs a port number, not '\(text)'")
        }
        return port
    }

    static func start(arguments: [String]) async throws -> Started {
        var started = Started()
        if let port = try port("--hubspot-port", in: arguments) {
            let double = try await HubSpotDouble(
                port: port, accessToken: value("--hubspot-token", in: arguments) ?? "dev-hubspot-token")
            announce("hubspot double on \(double.baseURL)")
            started.hubspot = double
        }
        if let port = try port("--salesforce-port", in: arguments) {
            let double = try await SalesforceDouble(port: port)
            announce("salesforce double on \(double.baseURL)")
            started.salesforce = double
        }
        if let port = try port("--pipedrive-port", in: arguments) {
            let double = try await PipedriveDouble(
                port: port, apiToken: value("--pipedrive-token", in: arguments) ?? "dev-pipedrive-token")
            announce("pipedrive double on \(double.baseURL)")
            started.pipedrive = double
        }
        if let port = try port("--webhook-port", in: arguments) {
            let double = try await WebhookReceiverDouble(
                port: port, secret: value("--webhook-secret", in: arguments) ?? "dev-webhook-secret")
            announce("webhook receiver double on \(double.url)")
            started.webhook = double
        }
        return started
    }
}

/// One line on stdout, unbuffered, so `make run` shows where each double listens at once.
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

struct DoubleOptionError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
