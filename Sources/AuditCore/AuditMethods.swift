import LeadlineRPC
import LeadlineRuntime

/// The audit daemon's wire methods, shaped exactly as Schemas/audit.openrpc.json describes them.

/// An event as a daemon appends it: no seq, no actor (the connection's credentials decide
/// the actor), no hashes.
public struct IncomingAuditEvent: Codable, Sendable, Hashable {
    public var time: String?
    public var action: String
    public var subject: String
    public var outcome: String
    public var details: [String: JSONValue]?
    /// Where a daemon's audit spool sent it from: resends are recognized by these two.
    public var spoolId: String?
    public var spoolSeq: Int64?

    public init(
        time: String? = nil, action: String, subject: String, outcome: String, details: [String: JSONValue]? = nil,
        spoolId: String? = nil, spoolSeq: Int64? = nil
    ) {
        self.time = time
        self.action = action
        self.subject = subject
        self.outcome = outcome
        self.details = details
        self.spoolId = spoolId
        self.spoolSeq = spoolSeq
    }
}

/// A stored, chained event as audit.query and audit.export return it.
public struct StoredAuditEvent: Codable, Sendable, Hashable {
    public var seq: Int64
    public var time: String
    public var actor: String
    public var action: String
    public var subject: String
    public var outcome: String
    public var details: JSONValue
    public var hash: String
    public var prevHash: String
}

public enum AppendEvents: RPCMethod {
    public static let name = "audit.append"
    public struct Params: Codable, Sendable {
        public var events: [IncomingAuditEvent]
        public init(events: [IncomingAuditEvent]) { self.events = events }
    }
    public struct Result: Codable, Sendable, JSONValueRepresentable {
        public var appended: Int
        /// Resent spool events already in the chain; absent when none.
        public var skipped: Int?
        public var firstSeq: Int64
        public var lastSeq: Int64

        public var jsonValue: JSONValue {
            var object: [String: JSONValue] = [
                "appended": .int(Int64(appended)), "firstSeq": .int(firstSeq), "lastSeq": .int(lastSeq),
            ]
            if let skipped { object["skipped"] = .int(Int64(skipped)) }
            return .object(object)
        }
    }
}

public enum QueryEvents: RPCMethod {
    public static let name = "audit.query"
    public struct Params: Codable, Sendable {
        public var since: String?
        public var until: String?
        public var action: String?
        public var subject: String?
        public var actor: String?
        public var limit: Int?
        public var cursor: String?
        public init(
            since: String? = nil, until: String? = nil, action: String? = nil, subject: String? = nil,
            actor: String? = nil, limit: Int? = nil, cursor: String? = nil
        ) {
            self.since = since
            self.until = until
            self.action = action
            self.subject = subject
            self.actor = actor
            self.limit = limit
            self.cursor = cursor
        }
    }
    public struct Result: Codable, Sendable {
        public var items: [StoredAuditEvent]
        public var nextCursor: String?
    }
}

public enum VerifyChain: RPCMethod {
    public static let name = "audit.verify"
    public typealias Params = NoParams
    public typealias Result = ChainVerification
}

public enum LatestCheckpoint: RPCMethod {
    public static let name = "audit.checkpoint"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable, Hashable {
        public var seq: Int64
        public var time: String
        public var hash: String
        public var signature: String
        public var publicKey: String
    }
}

public enum ExportEvents: RPCMethod {
    public static let name = "audit.export"
    public struct Params: Codable, Sendable {
        public var since: String?
        public var limit: Int?
        public var cursor: String?
        public init(since: String? = nil, limit: Int? = nil, cursor: String? = nil) {
            self.since = since
            self.limit = limit
            self.cursor = cursor
        }
    }
    public struct Result: Codable, Sendable {
        public var format: String
        public var lines: Int
        public var data: String
        public var nextCursor: String?
    }
}

public enum RunAuditRetention: RunRetentionMethod {
    public static let name = "audit.runRetention"
}
