import Crypto
import Foundation
import LeadlineRPC

/// Signs checkpoints, the chain head and the retention anchor with the `audit-signing-key`
/// credential (a raw 32-byte Ed25519 private key), and checks signatures with its public half.
///
/// Unchecked Sendable here and below: swift-crypto's key types are immutable values that the
/// library has not marked Sendable.
public struct AuditSigner: @unchecked Sendable {
    private let privateKey: Curve25519.Signing.PrivateKey
    public let verifier: AuditSignatureVerifier

    public init(rawPrivateKey: [UInt8]) throws {
        privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: rawPrivateKey)
        verifier = AuditSignatureVerifier(publicKey: privateKey.publicKey)
    }

    public var publicKeyHex: String { Hex.encode(privateKey.publicKey.rawRepresentation) }

    func sign(_ bytes: [UInt8]) throws -> String {
        Hex.encode(try privateKey.signature(for: bytes))
    }
}

public struct AuditSignatureVerifier: @unchecked Sendable {
    let publicKey: Curve25519.Signing.PublicKey

    public init(publicKey: Curve25519.Signing.PublicKey) {
        self.publicKey = publicKey
    }

    /// From the 64 hex digits audit.checkpoint returns as publicKey.
    public init(publicKeyHex: String) throws {
        guard let raw = Hex.decode(publicKeyHex) else { throw CryptoKitError.incorrectKeySize }
        publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: raw)
    }

    func isValid(_ signatureHex: String, for bytes: [UInt8]) -> Bool {
        guard let signature = Hex.decode(signatureHex), signature.count == 64 else { return false }
        return publicKey.isValidSignature(signature, for: bytes)
    }
}

extension AuditSignatureVerifier {
    /// Checks a checkpoint as audit.checkpoint returns it, e.g. a copy kept off the host.
    public func isValidCheckpoint(seq: Int64, time: String, hash: String, signature: String) -> Bool {
        isValid(signature, for: CanonicalEncoding.checkpointBytes(seq: seq, time: time, hash: hash))
    }
}
