import Crypto
import Foundation
import LeadlineHTTP
import LeadlineRPC

/// Any HTTPS endpoint: the canonical lead as JSON, `Idempotency-Key: <delivery id>` so the
/// receiver can drop repeats, and `Leadline-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
/// t + "." + body)>` so it can check the sender and the freshness.
struct WebhookConnector: Connector {
    func deliver(_ job: DeliveryJob, _ context: ConnectorContext) async throws -> Delivered {
        // The lead as stored: the same canonical JSON encoding `job.lead` would give again.
        let body = job.payload
        let response = try await post(job.destination, body: body, idempotencyKey: job.id, test: false, context)
        guard (200..<300).contains(response.status) else { throw VendorResponse.failure(response) }
        return Delivered(recordId: nil, httpStatus: response.status)
    }

    func check(_ destination: Destination, _ context: ConnectorContext) async throws -> HTTPResponse {
        let event: JSONValue = [
            "test": true, "destinationId": .string(destination.id), "sentAt": .string(RouterTime.iso(RouterTime.now())),
        ]
        return try await post(
            destination, body: try JSONCoding.encode(event), idempotencyKey: "test-\(UUID().uuidString)", test: true,
            context)
    }

    private func post(
        _ destination: Destination, body: Data, idempotencyKey: String, test: Bool, _ context: ConnectorContext
    )
        async throws -> HTTPResponse
    {
        guard let url = destination.options.url else {
            throw DeliveryFailure(.permanent, status: nil, "webhook destination has no options.url")
        }
        let secret = try await context.credentials.secret(destination.options.signingSecret ?? destination.credential)
        let timestamp = String(Int(RouterTime.now()))
        var headers = [
            ("Content-Type", "application/json"), ("Idempotency-Key", idempotencyKey),
            ("Leadline-Signature", Self.signature(secret: secret.value, timestamp: timestamp, body: body)),
        ]
        if test { headers.append(("Leadline-Test", "1")) }
        return try await context.http.send(
            HTTPRequest(
                method: "POST", url: url, headers: headers, body: body, timeout: context.timing.requestTimeout,
                idempotent: true))  // the receiver dedups on Idempotency-Key
    }

    static func signature(secret: String, timestamp: String, body: Data) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + Hex.encode(mac)
    }
}
