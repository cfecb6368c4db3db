import Crypto
import Foundation
import LeadlineConfig
import LeadlineRPC
import LeadlineRuntime
import Logging
import NIOConcurrencyHelpers

/// One complete HTTP request as the webhook server hands it over.
struct WebhookRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        // Header names are ASCII: comparing them needs no locale-aware string comparison.
        headers.last { $0.name.utf8.elementsEqual(name.utf8, by: { Self.asciiLower($0) == Self.asciiLower($1) }) }?
            .value
    }

    private static func asciiLower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}

struct WebhookResponse: Sendable, Equatable {
    var status: Int
    var body: String
    var contentType = "text/plain; charset=utf-8"

    static func text(_ status: Int, _ body: String) -> WebhookResponse {
        WebhookResponse(status: status, body: body + "\n")
    }
}

/// What the webhook endpoints mean, free of HTTP plumbing: Meta's subscription handshake,
/// signed lead notifications stored durably before the 200, and the health check.
final class WebhookEndpoints: Sendable {
    private let store: IngestStore
    private let secrets: any SecretSource
    private let meta: LeadlineConfig.Meta
    private let logger: Logger
    private let retrievalWakeup: Wakeup
    private let intake: IntakeLoad
    /// A bad signature may be a rotated app secret: re-read it, but not more than once per
    /// interval, so forged requests cannot turn into a flood of vault calls.
    private let lastForcedRefresh = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    private let rejections = RejectionAuditor()
    /// An HMAC keyed with the app secret last seen, so a request does not key one again.
    private let keyedHMAC = NIOLockedValueBox<(secret: String, mac: SharedHMAC)?>(nil)

    /// swift-crypto does not mark HMAC Sendable. The shared one is never updated: each request
    /// updates its own copy, and the hash states inside are copied on write.
    private struct SharedHMAC: @unchecked Sendable {
        let mac: HMAC<SHA256>
    }

    init(
        store: IngestStore, secrets: any SecretSource, meta: LeadlineConfig.Meta, logger: Logger,
        retrievalWakeup: Wakeup, intake: IntakeLoad
    ) {
        self.store = store
        self.secrets = secrets
        self.meta = meta
        self.logger = logger
        self.retrievalWakeup = retrievalWakeup
        self.intake = intake
    }

    /// Answers `request` through `respond`. A notification signed with the cached app secret is
    /// checked, parsed and handed to the database writer right here, on the caller's thread,
    /// with no task: `respond` then runs on the writer's thread once the commit is on disk.
    /// Everything else (the handshake, health, a secret to fetch, a refusal to audit) runs in a
    /// task, and so does `respond`. Either way `respond` must only hand the answer on.
    func handle(_ request: WebhookRequest, respond: @escaping @Sendable (WebhookResponse) -> Void) {
        if request.method == "POST", request.path == "/webhooks/meta", let keyed = cachedKeyedHMAC(),
            WebhookSignature.isValid(header: request.header("X-Hub-Signature-256"), body: request.body, keyed: keyed)
        {
            intake.begin()
            accept(request.body) { response in
                self.intake.end()
                respond(response)
            }
            return
        }
        Task { respond(await self.handle(request)) }
    }

    private func cachedKeyedHMAC() -> HMAC<SHA256>? {
        guard let secret = secrets.cachedSecret(named: meta.appSecret) else { return nil }
        return keyedHMAC.withLockedValue { cached in
            // Bytes, not Swift's canonical-equivalence ==: a secret is bytes.
            if let cached, cached.secret.utf8.elementsEqual(secret.value.utf8) { return cached.mac.mac }
            let keyed = WebhookSignature.keyed(secret.value)
            cached = (secret.value, SharedHMAC(mac: keyed))
            return keyed
        }
    }

    func handle(_ request: WebhookRequest) async -> WebhookResponse {
        switch (request.method, request.path) {
        case ("GET", "/webhooks/meta"): return await verifySubscription(request)
        case ("POST", "/webhooks/meta"): return await receiveNotification(request)
        case ("GET", "/healthz"):
            return await store.checkWritable() ? .text(200, "ok") : .text(503, "storage is not writable")
        case (_, "/webhooks/meta"), (_, "/healthz"): return .text(405, "method not allowed")
        default: return .text(404, "not found")
        }
    }

    /// GET /webhooks/meta?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C
    private func verifySubscription(_ request: WebhookRequest) async -> WebhookResponse {
        guard request.query["hub.mode"] == "subscribe", let offered = request.query["hub.verify_token"],
            let challenge = request.query["hub.challenge"], !challenge.isEmpty, challenge.utf8.count <= 1024
        else { return .text(403, "forbidden") }
        let expected: Secret
        do {
            expected = try await secrets.secret(named: meta.verifyToken, fresh: false)
        } catch .unavailable {
            return .text(503, "the vault is unavailable; try again")
        } catch {
            logger.warning(
                "webhook verification refused: no readable verify token in the vault",
                metadata: ["secret": "\(meta.verifyToken)"])
            return .text(403, "forbidden")
        }
        guard Self.constantTimeEquals(offered, expected.value) else {
            logger.warning("webhook verification refused: wrong verify token")
            return .text(403, "forbidden")
        }
        logger.notice("webhook subscription verified")
        return WebhookResponse(status: 200, body: challenge)
    }

    /// POST /webhooks/meta when the fast path in `handle(_:respond:)` could not take it: the app
    /// secret to fetch, or a signature that fails and may mean a rotated secret.
    private func receiveNotification(_ request: WebhookRequest) async -> WebhookResponse {
        intake.begin()
        defer { intake.end() }
        let signature = request.header("X-Hub-Signature-256")
        var appSecret: Secret
        do {
            appSecret = try await secrets.secret(named: meta.appSecret, fresh: false)
        } catch .unavailable {
            return .text(503, "the vault is unavailable; try again")
        } catch {
            // Meta retries for 36 hours: storing the app secret then loses nothing.
            logger.error(
                "webhook refused: the app secret is not in the vault or not readable by ingest",
                metadata: ["secret": "\(meta.appSecret)"])
            return .text(503, "not configured")
        }
        var valid = WebhookSignature.isValid(header: signature, body: request.body, appSecret: appSecret.value)
        if !valid, signature != nil, mayForceRefresh(),
            let fresh = try? await secrets.secret(named: meta.appSecret, fresh: true),
            fresh != appSecret
        {
            appSecret = fresh
            valid = WebhookSignature.isValid(header: signature, body: request.body, appSecret: appSecret.value)
        }
        guard valid else {
            let reason = signature == nil ? "missing-signature" : "bad-signature"
            if let event = rejections.event(reason: reason) {
                logger.warning(
                    "webhook refused",
                    metadata: [
                        "reason": "\(reason)",
                        "foldedSincePrevious": "\(event.details?["suppressedSincePrevious"] ?? 0)",
                    ])
                await store.spool.record(event)
            }
            return .text(403, "forbidden")
        }
        return await withCheckedContinuation { continuation in
            accept(request.body) { continuation.resume(returning: $0) }
        }
    }

    /// A signed notification: its JSON, then every leadgen change in one shared commit, and 200
    /// only once that is on disk. `respond` runs on the writer's thread, or at once for bad JSON.
    private func accept(_ body: [UInt8], respond: @escaping @Sendable (WebhookResponse) -> Void) {
        let payload: WebhookPayload
        do {
            payload = try WebhookPayload.parse(body)
        } catch {
            return respond(.text(400, "the body is not a JSON object"))
        }
        if payload.skipped > 0 {
            logger.debug("skipped changes that are not leadgen", metadata: ["count": "\(payload.skipped)"])
        }
        let logger = self.logger
        let retrievalWakeup = self.retrievalWakeup
        store.storeWebhookChanges(payload.changes, receivedAt: Timestamp.now()) { result in
            switch result {
            case .success(let inserted):
                logger.debug(
                    "webhook stored", metadata: ["changes": "\(payload.changes.count)", "new": "\(inserted)"])
                if !payload.changes.isEmpty { retrievalWakeup.signal() }
                respond(.text(200, "ok"))
            case .failure(let error):
                // 503 like /healthz: the proxy and monitoring read it as temporary (Meta retries any non-200).
                logger.error("cannot store webhook changes", metadata: ["error": "\(type(of: error))"])
                respond(.text(503, "storage is not writable; nothing was acknowledged"))
            }
        }
    }

    private func mayForceRefresh() -> Bool {
        let now = ContinuousClock.now
        return lastForcedRefresh.withLockedValue { last in
            if let last, now - last < .seconds(10) { return false }
            last = now
            return true
        }
    }

    /// Compares digests, so neither the length nor the content of the secret leaks through timing.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let left = Array(SHA256.hash(data: Data(a.utf8)))
        let right = Array(SHA256.hash(data: Data(b.utf8)))
        var difference: UInt8 = 0
        for index in 0..<left.count { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}

/// Audit events for refused webhooks, at most one per reason every 10 s with the count of the
/// ones folded into it: a forger cannot fill the audit log, an operator still sees every attempt.
final class RejectionAuditor: Sendable {
    private let state = NIOLockedValueBox<[String: (last: ContinuousClock.Instant, suppressed: Int)]>([:])

    func event(reason: String) -> AuditEvent? {
        let now = ContinuousClock.now
        let suppressed = state.withLockedValue { state -> Int? in
            if let entry = state[reason], now - entry.last < .seconds(10) {
                state[reason] = (entry.last, entry.suppressed + 1)
                return nil
            }
            let folded = state[reason]?.suppressed ?? 0
            state[reason] = (now, 0)
            return folded
        }
        guard let suppressed else { return nil }
        return AuditEvent(
            action: "ingest.webhookRejected", subject: "webhook/meta", outcome: "denied",
            details: ["reason": .string(reason), "suppressedSincePrevious": .int(Int64(suppressed))])
    }
}
