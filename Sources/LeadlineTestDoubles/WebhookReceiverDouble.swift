import Crypto
import Foundation
import NIOConcurrencyHelpers

/// A webhook receiver as an operator would write one: checks Leadline-Signature (HMAC-SHA256
/// over "t.body", constant-time), keeps one record per Idempotency-Key, answers 200 to repeats.
public final class WebhookReceiverDouble: Sendable {
    public struct Received: Sendable {
        public var idempotencyKey: String
        public var body: Data
        public var deliveries: Int
    }

    public let server: HTTPTestServer
    public let faults = FaultSchedule()
    private let secret: String
    private let received = NIOLockedValueBox([String: Received]())
    private let rejected = NIOLockedValueBox(0)

    public var url: String { server.baseURL + "/hooks/leads" }
    /// One entry per Idempotency-Key.
    public var records: [String: Received] { received.withLockedValue { $0 } }
    public var badSignatures: Int { rejected.withLockedValue { $0 } }

    public init(port: Int = 0, secret: String) async throws {
        self.secret = secret
        server = try await HTTPTestServer(port: port)
        // Answers without awaiting: on the event loop, no task per request (see HTTPTestServer).
        server.respondImmediately { [weak self] request in
            guard let self else { return .reset }
            return self.answer(request)
        }
    }

    public func shutdown() async { await server.shutdown() }

    func answer(_ request: RecordedRequest) -> CannedResponse {
        guard request.method == "POST" else { return .json(405, #"{"error":"method not allowed"}"#) }
        guard Self.verify(request.header("Leadline-Signature"), body: request.body, secret: secret) else {
            rejected.withLockedValue { $0 += 1 }
            return .json(401, #"{"error":"bad signature"}"#)
        }
        guard let key = request.header("Idempotency-Key"), !key.isEmpty else {
            return .json(400, #"{"error":"Idempotency-Key required"}"#)
        }
        let fault = faults.next()
        switch fault {
        case .validation?: return .json(422, #"{"error":"lead rejected by the receiver"}"#)
        case .rateLimited?: return .json(429, #"{"error":"slow down"}"#, headers: [("Retry-After", "1")])
        case .retryAfter(let seconds)?:
            return .json(429, #"{"error":"slow down"}"#, headers: [("Retry-After", String(seconds))])
        case .serverError(let status)?: return .json(status, #"{"error":"receiver failed"}"#)
        default: break
        }
        if request.header("Leadline-Test") != "1" {
            received.withLockedValue { received in
                if var existing = received[key] {
                    existing.deliveries += 1
                    received[key] = existing
                } else {
                    received[key] = Received(idempotencyKey: key, body: request.body, deliveries: 1)
                }
            }
        }
        return FaultSchedule.lose(.json(200, #"{"ok":true}"#), to: fault)
    }

    /// `t=<unix>,v1=<hex>`; the MAC is compared in constant time.
    public static func verify(_ header: String?, body: Data, secret: String) -> Bool {
        guard let header else { return false }
        var timestamp: String?
        var signature: String?
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = pair[1] }
            if pair[0] == "v1" { signature = pair[1] }
        }
        guard let timestamp, let signature, let given = Data(hexString: signature) else { return false }
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        return HMAC<SHA256>.isValidAuthenticationCode(
            given, authenticating: message, using: SymmetricKey(data: Data(secret.utf8)))
    }
}

extension Data {
    init?(hexString: String) {
        guard hexString.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        var index = hexString.startIndex
        while index < hexString.endIndex {
            let next = hexString.index(index, offsetBy: 2)
            guard let byte = UInt8(hexString[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
