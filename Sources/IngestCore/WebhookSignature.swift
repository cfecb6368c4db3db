import Crypto
import Foundation

/// Meta's X-Hub-Signature-256: `sha256=` and the hex HMAC-SHA256 of the raw body, keyed with
/// the app secret. Compared in constant time (swift-crypto's MAC check), after decoding the hex.
enum WebhookSignature {
    static func isValid(header: String?, body: [UInt8], appSecret: String) -> Bool {
        guard let header, header.hasPrefix("sha256="), let mac = hexBytes(header.dropFirst(7)), mac.count == 32
        else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(
            mac, authenticating: body, using: SymmetricKey(data: Data(appSecret.utf8)))
    }

    static func sign(body: some DataProtocol, appSecret: String) -> String {
        "sha256=" + hex(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(appSecret.utf8))))
    }

    /// Graph's appsecret_proof: hex HMAC-SHA256(app secret, access token).
    static func appSecretProof(accessToken: String, appSecret: String) -> String {
        hex(
            HMAC<SHA256>.authenticationCode(
                for: Data(accessToken.utf8), using: SymmetricKey(data: Data(appSecret.utf8))))
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexBytes(_ text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
