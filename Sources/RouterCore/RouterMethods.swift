import LeadlineRPC
import LeadlineRuntime

/// The router's JSON-RPC methods as typed pairs. Shapes follow Schemas/router.openrpc.json,
/// which the runtime checks params (and, in tests, results) against.
public enum DestinationKind: String, Codable, Sendable, CaseIterable {
    case hubspot, salesforce, pipedrive, webhook
}

/// Kind-specific destination settings; the schema rejects keys used with the wrong kind.
public struct DestinationOptions: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var externalIdField: String?
    public var ownerId: JSONValue?
    public var url: String?
    public var signingSecret: String?
    public var ratePerSecond: Double?
}

public struct Destination: Codable, Sendable, Hashable {
    public var id: String
    public var kind: DestinationKind
    public var baseUrl: String?
    public var credential: String
    public var options: DestinationOptions
    public var createdAt: String
    public var updatedAt: String
}

/// Which leads a route takes; every key given must equal the lead's source.
public struct RouteMatch: Codable, Sendable, Hashable {
    public var platform: String?
    public var pageId: String?
    public var formId: String?
}

public struct Route: Codable, Sendable, Hashable {
    public var id: String
    public var match: RouteMatch
    public var destinationId: String
    public var fieldMap: [String: JSONValue]
    public var enabled: Bool
    public var createdAt: String
    public var updatedAt: String
}

public enum DeliveryState: String, Codable, Sendable, CaseIterable {
    case pending, inflight, retrying, delivered, dead
}

public struct DeliveryAttempt: Codable, Sendable, Hashable {
    public var at: String
    public var httpStatus: Int?
    public var latencyMs: Double
    public var error: String?
}

public struct Delivery: Codable, Sendable, Hashable {
    public var id: String
    public var leadId: String
    public var destinationId: String
    public var routeId: String
    public var state: DeliveryState
    public var attempts: Int
    public var nextAttemptAt: String?
    public var crmRecordId: String?
    public var lastError: String?
    public var createdAt: String
    public var updatedAt: String
    public var log: [DeliveryAttempt]?
}

public struct IdParams: Codable, Sendable { public var id: String }
public struct Deleted: Codable, Sendable {
    public var id: String
    public var deleted: Bool
}
public struct Items<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    public var nextCursor: String?
}

public enum EnqueueLead: RPCMethod {
    public static let name = "router.enqueueLead"
    public struct Params: Codable, Sendable { public var lead: JSONValue }
    public struct Result: Codable, Sendable, JSONValueRepresentable {
        public var leadId: String
        public var deliveries: [String]
        public var duplicate: Bool

        public var jsonValue: JSONValue {
            .object([
                "leadId": .string(leadId), "deliveries": .array(deliveries.map { .string($0) }),
                "duplicate": .bool(duplicate),
            ])
        }
    }
}

public enum PutDestination: RPCMethod {
    public static let name = "router.putDestination"
    public struct Params: Codable, Sendable {
        public var id: String
        public var kind: DestinationKind
        public var baseUrl: String?
        public var credential: String
        public var options: DestinationOptions?
    }
    public typealias Result = Destination
}

public enum ListDestinations: RPCMethod {
    public static let name = "router.listDestinations"
    public typealias Params = NoParams
    public typealias Result = Items<Destination>
}

public enum DeleteDestination: RPCMethod {
    public static let name = "router.deleteDestination"
    public typealias Params = IdParams
    public typealias Result = Deleted
}

public enum TestDestination: RPCMethod {
    public static let name = "router.testDestination"
    public typealias Params = IdParams
    public struct Result: Codable, Sendable {
        public var id: String
        public var ok: Bool
        public var httpStatus: Int?
        public var latencyMs: Double
        public var detail: String
    }
}

public enum PutRoute: RPCMethod {
    public static let name = "router.putRoute"
    public struct Params: Codable, Sendable {
        public var id: String
        public var match: RouteMatch
        public var destinationId: String
        public var fieldMap: [String: JSONValue]
        public var enabled: Bool?
    }
    public typealias Result = Route
}

public enum ListRoutes: RPCMethod {
    public static let name = "router.listRoutes"
    public typealias Params = NoParams
    public typealias Result = Items<Route>
}

public enum DeleteRoute: RPCMethod {
    public static let name = "router.deleteRoute"
    public typealias Params = IdParams
    public typealias Result = Deleted
}

public enum ListDeliveries: RPCMethod {
    public static let name = "router.listDeliveries"
    public struct Params: Codable, Sendable {
        public var state: DeliveryState?
        public var leadId: String?
        public var limit: Int?
        public var cursor: String?
    }
    public typealias Result = Items<Delivery>
}

public enum RetryDeliveries: RPCMethod {
    public static let name = "router.retryDeliveries"
    public struct Params: Codable, Sendable {
        public var ids: [String]?
        public var state: DeliveryState?
    }
    public struct Result: Codable, Sendable { public var requeued: Int }
}

public enum EraseLeads: RPCMethod {
    public static let name = "router.eraseLeads"
    public struct Params: Codable, Sendable {
        public var leadIds: [String]
        /// The erasure receipt `leadctl privacy erase` prints, carried into the audit events.
        public var receipt: String?
    }
    public struct Result: Codable, Sendable { public var erased: Int }
}

public enum RouterStats: RPCMethod {
    public static let name = "router.stats"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable {
        public struct Counts: Codable, Sendable {
            public var pending = 0, inflight = 0, retrying = 0, delivered = 0, dead = 0
        }
        public struct DestinationHealth: Codable, Sendable {
            public var id: String
            public var circuit: String
            public var consecutiveFailures: Int
        }
        public var deliveries: Counts
        public var destinations: [DestinationHealth]
    }
}

public enum RunRouterRetention: RunRetentionMethod {
    public static let name = "router.runRetention"
}
