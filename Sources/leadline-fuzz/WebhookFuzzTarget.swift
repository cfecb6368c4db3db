import IngestCore

/// The POST /webhooks/meta path of leadline-ingest on hostile bytes: the signature check, the
/// body parser, and what retrieval later makes of each change when Graph says nothing more.
enum WebhookFuzzTarget {
    static let appSecret = "fuzz-app-secret"

    static func run(_ body: [UInt8]) {
        checkSignatures(body)
        guard let payload = try? WebhookPayload.parse(body) else { return }
        for change in payload.changes {
            // An empty Graph answer makes the normalizer lean on the webhook's own values
            // (created_time above all), which is where hostile numbers would bite.
            RouterAcceptance.require(
                LeadNormalizer.fromGraph(
                    .object([:]), leadID: "ld_fuzz", change: change, receivedAt: "2026-01-01T00:00:00.000Z"))
        }
    }

    /// A header the daemon signed must pass, so a false here is a finding too; headers made of
    /// the input itself walk the hex decoder with hostile text.
    private static func checkSignatures(_ body: [UInt8]) {
        let signed = WebhookSignature.sign(body: body, appSecret: appSecret)
        guard WebhookSignature.isValid(header: signed, body: body, appSecret: appSecret) else {
            fatalError("a body's own signature was refused")
        }
        let hostile = String(decoding: body.prefix(80), as: UTF8.self)
        _ = WebhookSignature.isValid(header: hostile, body: body, appSecret: appSecret)
        _ = WebhookSignature.isValid(header: "sha256=" + hostile, body: body, appSecret: appSecret)
    }
}
