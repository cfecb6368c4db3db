import LeadlineRPC
import LeadlineRuntime

/// The ingest.* methods (Schemas/ingest.openrpc.json), typed.
public enum SubmitLead: RPCMethod {
    public static let name = "ingest.submitLead"
    public struct Params: Codable, Sendable {
        public var lead: LeadSubmission
        public var idempotencyKey: String
    }
    public struct Result: Codable, Sendable {
        public var id: String
        public var duplicate: Bool
    }
}

public enum GetLead: RPCMethod {
    public static let name = "ingest.getLead"
    public struct Params: Codable, Sendable {
        public var id: String
    }
    public typealias Result = Lead
}

public struct LeadPage: Codable, Sendable {
    public var items: [Lead]
    public var nextCursor: String?
}

public enum ListLeads: RPCMethod {
    public static let name = "ingest.listLeads"
    public struct Params: Codable, Sendable {
        public var limit: Int?
        public var cursor: String?
        public var formId: String?
        public var since: String?
    }
    public typealias Result = LeadPage
}

public enum FindLeads: RPCMethod {
    public static let name = "ingest.findLeads"
    public struct Params: Codable, Sendable {
        public var email: String?
        public var phone: String?
    }
    public struct Result: Codable, Sendable {
        public var items: [Lead]
    }
}

public enum EraseLeads: RPCMethod {
    public static let name = "ingest.eraseLeads"
    public struct Params: Codable, Sendable {
        public var ids: [String]
        /// The erasure receipt `leadctl privacy erase` prints, carried into the audit events.
        public var receipt: String?
    }
    public struct Result: Codable, Sendable {
        public var erased: Int
        public var notFound: [String]
    }
}

public enum Reconcile: RPCMethod {
    public static let name = "ingest.reconcile"
    public struct Params: Codable, Sendable {
        public var formId: String?
    }
    public struct Result: Codable, Sendable {
        public var forms: Int
        public var fetched: Int
        public var inserted: Int
        public var pages: Int
    }
}

public enum IngestStats: RPCMethod {
    public static let name = "ingest.stats"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable {
        public struct Inbox: Codable, Sendable {
            public var received: Int
            public var fetching: Int
            public var ready: Int
            public var handedOff: Int
            public var waitingToken: Int
            public var failed: Int
        }
        public struct PageNeedingAttention: Codable, Sendable {
            public var pageId: String
            public var reason: String
            public var since: String
        }
        public var leads: Int
        public var inbox: Inbox
        public var pagesNeedingAttention: [PageNeedingAttention]
        public var lastWebhookAt: String?
        public var lastReconcileAt: String?
    }
}

public enum RunIngestRetention: RunRetentionMethod {
    public static let name = "ingest.runRetention"
}
