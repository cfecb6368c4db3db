import Crypto
import Foundation

/// A stored ciphertext that does not authenticate: tampered with, truncated, or moved to a
/// row whose name, version or key version differ from the ones it was sealed for.
public struct SecretIntegrityError: Error, CustomStringConvertible, Sendable {
    public var name: String
    public var description: String {
        "the stored ciphertext of '\(name)' does not authenticate (tampered with or moved between rows)"
    }
}

/// AES-256-GCM per secret. Each seal takes a fresh random nonce; the additional authenticated
/// data names the row the ciphertext belongs to, so a ciphertext copied into another row (other
/// name, older version, other key) fails to open instead of yielding someone else's secret.
public enum SecretCipher {
    /// Unambiguous because names cannot contain NUL (their pattern is [A-Za-z0-9._/-]).
    static func additionalData(name: String, version: Int, keyVersion: Int) -> Data {
        Data("leadline.vault.secret.v1\u{0}\(name)\u{0}\(version)\u{0}\(keyVersion)".utf8)
    }

    /// nonce || ciphertext || tag, as one blob.
    static func seal(_ value: String, key: SymmetricKey, name: String, version: Int, keyVersion: Int) throws -> Data {
        let box = try AES.GCM.seal(
            Data(value.utf8), using: key, nonce: AES.GCM.Nonce(),
            authenticating: additionalData(name: name, version: version, keyVersion: keyVersion))
        guard let combined = box.combined else { throw SecretIntegrityError(name: name) }
        return combined
    }

    static func open(_ sealed: Data, key: SymmetricKey, name: String, version: Int, keyVersion: Int) throws -> String {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            let plain = try AES.GCM.open(
                box, using: key, authenticating: additionalData(name: name, version: version, keyVersion: keyVersion))
            guard let text = String(data: plain, encoding: .utf8) else { throw SecretIntegrityError(name: name) }
            return text
        } catch {
            throw SecretIntegrityError(name: name)
        }
    }
}
