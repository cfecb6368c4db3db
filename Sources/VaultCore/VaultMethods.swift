import LeadlineRPC

/// The vault's wire methods, shaped exactly as Schemas/vault.openrpc.json describes them.
/// The runtime validates params against that document before these types decode them.
public enum SecretKind {
    public static let defaultKind = "generic"
}

public enum PutSecret: RPCMethod {
    public static let name = "vault.putSecret"
    public struct Params: Codable, Sendable {
        public var name: String
        public var value: String
        public var readers: [String]
        public var kind: String?
        public var expiresAt: String?
        public var metadata: [String: String]?
        public init(
            name: String, value: String, readers: [String], kind: String? = nil, expiresAt: String? = nil,
            metadata: [String: String]? = nil
        ) {
            self.name = name
            self.value = value
            self.readers = readers
            self.kind = kind
            self.expiresAt = expiresAt
            self.metadata = metadata
        }
    }
    public typealias Result = SecretVersion
}

public struct SecretVersion: Codable, Sendable, Hashable {
    public var name: String
    public var version: Int
    public init(name: String, version: Int) {
        self.name = name
        self.version = version
    }
}

public enum GetSecret: RPCMethod {
    public static let name = "vault.getSecret"
    public struct Params: Codable, Sendable {
        public var name: String
        public init(name: String) { self.name = name }
    }
    public struct Result: Codable, Sendable {
        public var name: String
        public var version: Int
        public var value: String
        public var kind: String
        public var readers: [String]
        public var expiresAt: String?
        public var metadata: [String: String]?
    }
}

public enum UpdateSecret: RPCMethod {
    public static let name = "vault.updateSecret"
    public struct Params: Codable, Sendable {
        public var name: String
        public var value: String
        public var expectedVersion: Int
        public var expiresAt: String?
        public var metadata: [String: String]?
        public init(
            name: String, value: String, expectedVersion: Int, expiresAt: String? = nil,
            metadata: [String: String]? = nil
        ) {
            self.name = name
            self.value = value
            self.expectedVersion = expectedVersion
            self.expiresAt = expiresAt
            self.metadata = metadata
        }
    }
    public typealias Result = SecretVersion
}

public enum ListSecrets: RPCMethod {
    public static let name = "vault.listSecrets"
    public typealias Params = NoParams
    public struct Item: Codable, Sendable {
        public var name: String
        public var version: Int
        public var kind: String
        public var readers: [String]
        public var createdAt: String
        public var updatedAt: String
        public var expiresAt: String?
        public var keyVersion: Int
        public var metadata: [String: String]?
    }
    public struct Result: Codable, Sendable {
        public var items: [Item]
    }
}

public enum DeleteSecret: RPCMethod {
    public static let name = "vault.deleteSecret"
    public struct Params: Codable, Sendable {
        public var name: String
        public init(name: String) { self.name = name }
    }
    public struct Result: Codable, Sendable {
        public var name: String
        public var deleted: Bool
    }
}

public enum RotateKey: RPCMethod {
    public static let name = "vault.rotateKey"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable {
        public var keyVersion: Int
        public var reencrypted: Int
    }
}

public enum VaultStatus: RPCMethod {
    public static let name = "vault.status"
    public struct Params: Codable, Sendable {
        public var expiringWithinDays: Int?
        public init(expiringWithinDays: Int? = nil) { self.expiringWithinDays = expiringWithinDays }
    }
    public struct Expiry: Codable, Sendable, Hashable {
        public var name: String
        public var expiresAt: String
    }
    public struct Result: Codable, Sendable {
        public var keyVersion: Int
        public var secrets: Int
        public var encryptionsSinceRotation: Int
        public var lastRotationAt: String?
        public var expiringSoon: [Expiry]
        public var expired: [Expiry]
    }
}
