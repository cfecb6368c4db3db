import Foundation
import LeadlineTestDoubles

/// `--graph-port N` starts the Meta Graph API double; `--graph-app-secret S` makes it require a
/// matching appsecret_proof (without it any proof and any page token are accepted, as `make run`
/// seeds placeholders). Kept apart from the CRM options so each double's flags live with it.
enum GraphDoubleOptions {
    static func start(arguments: [String]) async throws -> GraphAPIDouble? {
        guard let port = try CRMDoubleOptions.port("--graph-port", in: arguments) else { return nil }
        let double = try await GraphAPIDouble(
            port: port, appSecret: CRMDoubleOptions.value("--graph-app-secret", in: arguments),
            synthesizeUnknownLeads: arguments.contains("--graph-any-lead"))
        announce("graph api double on \(double.baseURL)")
        return double
    }
}
