import Crypto
import Foundation
import LeadlineRPC

/// Meta's X-Hub-Signature-256: `sha256=` and the hex HMAC-SHA256 of the raw body, keyed with
/// the app secret. Compared in constant time (swift-crypto's MAC check), after decoding the hex.
/// Package-visible so the fuzzer (leadline-fuzz) checks hostile headers with the daemon's code.
package enum WebhookSignature {
    package static func isValid(header: String?, body: [UInt8], appSecret: String) -> Bool {
        isValid(header: header, body: body, keyed: keyed(appSecret))
    }

    /// With an HMAC keyed once (`keyed(_:)`): a webhook endpoint checks every request with the
    /// same secret, and keying (padding the key, hashing both pads) cost more than the body.
    static func isValid(header: String?, body: [UInt8], keyed: HMAC<SHA256>) -> Bool {
        guard let header, header.hasPrefix("sha256="),
            let expected = Hex.decode(header.dropFirst(7), allowingUppercase: true), expected.count == 32
        else { return false }
        var mac = keyed
        mac.update(data: body)
        // swift-crypto compares a code with bytes in constant time.
        return mac.finalize() == expected
    }

    static func keyed(_ appSecret: String) -> HMAC<SHA256> {
        HMAC<SHA256>(key: SymmetricKey(data: Data(appSecret.utf8)))
    }

    package static func sign(body: some DataProtocol, appSecret: String) -> String {
        "sha256="
            + Hex.encode(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(appSecret.utf8))))
    }

    /// Graph's appsecret_proof: hex HMAC-SHA256(app secret, access token).
    static func appSecretProof(accessToken: String, appSecret: String) -> String {
        Hex.encode(
            HMAC<SHA256>.authenticationCode(
                for: Data(accessToken.utf8), using: SymmetricKey(data: Data(appSecret.utf8))))
    }
}
