/// A typed JSON-RPC method: its wire name and the Codable pair it takes and returns.
/// Daemons declare one of these per method; the dispatcher and the client share them.
public protocol RPCMethod {
    associatedtype Params: Codable & Sendable
    associatedtype Result: Codable & Sendable
    static var name: String { get }
}

/// Params of a method that takes none (`{}` or no `params` member).
public struct NoParams: Codable, Sendable, Hashable {
    public init() {}
}

/// Who may call a method, checked against the caller's SO_PEERCRED-derived roles
/// before any params are decoded.
public enum Authorization: Sendable {
    case anyone
    case admin
    case submitter
    /// Any of the named services (the Unix users in `[access.services]`).
    case services(Set<String>)
    /// Any configured service user: methods whose finer check depends on the data (vault readers).
    case anyService
    indirect case anyOf([Authorization])

    public func allows(_ caller: Caller) -> Bool {
        switch self {
        case .anyone: return true
        case .admin: return caller.isAdmin
        case .submitter: return caller.isSubmitter
        case .services(let names): return !caller.services.isDisjoint(with: names)
        case .anyService: return !caller.services.isEmpty
        case .anyOf(let rules): return rules.contains { $0.allows(caller) }
        }
    }

    public var summary: String {
        switch self {
        case .anyone: return "any local user who can open the socket"
        case .admin: return "an admin"
        case .submitter: return "a submitter"
        case .services(let names): return "the \(names.sorted().joined(separator: " or ")) service"
        case .anyService: return "a Leadline service"
        case .anyOf(let rules): return rules.map(\.summary).joined(separator: " or ")
        }
    }
}

/// A result that builds its JSON itself. The methods called most often (ping, enqueueLead,
/// audit appends) skip Codable's encoder, whose generic containers cost a ping more than the
/// rest of its own work. Tests hold each conformance to what Codable writes.
public protocol JSONValueRepresentable: Encodable {
    var jsonValue: JSONValue { get }
}
