import Crypto
import Foundation
import LeadlineRPC

/// Meta's X-Hub-Signature-256: `sha256=` and the hex HMAC-SHA256 of the raw body, keyed with
/// the app secret. Compared in constant time (swift-crypto's MAC check), after decoding the hex.
/// Package-visible so the fuzzer (leadline-fuzz) checks hostile headers with the daemon's code.
package enum WebhookSignature {
    package static func isValid(header: String?, body: [UInt8], appSecret: String) -> Bool {
        guard let header, header.hasPrefix("sha256="),
            let mac = Hex.decode(header.dropFirst(7), allowingUppercase: true), mac.count == 32
        else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(
            mac, authenticating: body, using: SymmetricKey(data: Data(appSecret.utf8)))
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
