import Foundation

/// systemd credentials (LoadCredential=/LoadCredentialEncrypted=) from $CREDENTIALS_DIRECTORY.
/// A missing or malformed key is fatal with one line naming the credential: never a fallback.
public struct Credentials: Sendable {
    public let directory: String?

    public init(directory: String?) {
        self.directory = directory
    }

    public func read(_ name: String, exactBytes: Int? = nil) throws -> [UInt8] {
        guard let directory else {
            throw RuntimeError(
                "credential '\(name)' is missing: CREDENTIALS_DIRECTORY is not set (LoadCredentialEncrypted=\(name):...)"
            )
        }
        let path = "\(directory)/\(name)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RuntimeError("credential '\(name)' is missing: no readable file \(path)")
        }
        let bytes = [UInt8](data)
        if let exactBytes, bytes.count != exactBytes {
            throw RuntimeError("credential '\(name)' must be exactly \(exactBytes) bytes, found \(bytes.count)")
        }
        return bytes
    }
}
