import Foundation
import LeadlineRPC
import TOMLKit

/// `/etc/leadline/leadline.toml`: every key has a default, unknown keys and bad values are
/// errors at start. Schemas/config.schema.json describes the same keys.
public struct LeadlineConfig: Sendable {
    public static let defaultPath = "/etc/leadline/leadline.toml"
    public static let serviceNames = ["vault", "ingest", "router", "audit"]

    public struct Paths: Sendable {
        public var runtimeDir = "/run/leadline"
        public var stateDir = "/var/lib/leadline"
        public func socket(_ service: String) -> String { "\(runtimeDir)/\(service).sock" }
        public func state(_ service: String) -> String { "\(stateDir)/\(service)" }
    }

    public struct RPC: Sendable {
        public var maxLineBytes = 1 << 20
        public var maxConnectionsPerUID = 64
        public var idleTimeoutSeconds = 300
        public var callTimeoutSeconds = 30
    }

    public struct Meta: Sendable {
        public var appID = ""
        public var appSecret = "meta/app-secret"
        public var verifyToken = "meta/verify-token"
        public var graphBaseURL = "https://graph.facebook.com"
        public var graphVersion = "v25.0"
        public var pageTokenPrefix = "meta/page/"
    }

    public struct Ingest: Sendable {
        public var webhookListen = "127.0.0.1:8470"
        public var maxBodyBytes = 1 << 20
        public var reconcileIntervalSeconds = 600
        public var forms: [String] = []
    }

    public struct Router: Sendable {
        public var maxAttemptsHours = 72
    }

    public struct Vault: Sendable {
        public var rotateAfterEncryptions = 1_000_000
        public var rotateAfterDays = 90
    }

    public struct Audit: Sendable {
        public var checkpointEveryEvents = 1000
        public var checkpointEverySeconds = 60
        public var piiHashKey = "audit/pii-hash-key"
    }

    public struct Retention: Sendable {
        public var leadDays = 30
        public var deliveryLogDays = 90
        public var auditDays = 730
    }

    public var file: String?
    public var paths = Paths()
    public var access = AccessPolicy(
        admins: ["root"], submitters: [],
        services: Dictionary(uniqueKeysWithValues: serviceNames.map { ($0, "leadline-\($0)") }))
    public var rpc = RPC()
    public var logLevel = "info"
    public var meta = Meta()
    public var ingest = Ingest()
    public var router = Router()
    public var vault = Vault()
    public var audit = Audit()
    public var retention = Retention()
    /// `CREDENTIALS_DIRECTORY` as systemd sets it (LoadCredential=, LoadCredentialEncrypted=).
    public var credentialsDirectory: String?

    public init() {}

    public var rpcLimits: RPCLimits {
        RPCLimits(
            maxLineBytes: rpc.maxLineBytes, maxConnectionsPerUID: rpc.maxConnectionsPerUID,
            idleTimeout: .seconds(Int64(rpc.idleTimeoutSeconds)), callTimeout: .seconds(Int64(rpc.callTimeoutSeconds)))
    }

    /// The config the environment points at: LEADLINE_CONFIG or the default path (whose absence
    /// means all defaults), then LEADLINE_RUNTIME_DIR, LEADLINE_STATE_DIR, CREDENTIALS_DIRECTORY.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> LeadlineConfig
    {
        var config: LeadlineConfig
        if let explicit = environment["LEADLINE_CONFIG"], !explicit.isEmpty {
            config = try load(file: explicit)
        } else if FileManager.default.fileExists(atPath: defaultPath) {
            config = try load(file: defaultPath)
        } else {
            config = LeadlineConfig()
        }
        if let runtime = environment["LEADLINE_RUNTIME_DIR"], !runtime.isEmpty { config.paths.runtimeDir = runtime }
        if let state = environment["LEADLINE_STATE_DIR"], !state.isEmpty { config.paths.stateDir = state }
        if let credentials = environment["CREDENTIALS_DIRECTORY"], !credentials.isEmpty {
            config.credentialsDirectory = credentials
        }
        return config
    }

    public static func load(file: String) throws -> LeadlineConfig {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(file: file, "cannot read the file (missing or not readable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: file, "not UTF-8 text")
        }
        return try parse(text, file: file)
    }

    public static func parse(_ text: String, file: String = "leadline.toml") throws -> LeadlineConfig {
        if let line = TableHeaderCheck.firstBadHeader(in: text) {
            throw ConfigError(file: file, "TOML syntax error at line \(line): a table header must start with a key")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(
                file: file,
                "TOML syntax error at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)"
            )
        }
        guard case .object(let root) = try JSONCoding.parse(Array(table.convert(to: .json).utf8)) else {
            throw ConfigError(file: file, "the document is not a table")
        }
        var config = LeadlineConfig()
        config.file = file
        try config.read(ConfigReader(file: file, table: root))
        return config
    }

    private mutating func read(_ root: ConfigReader) throws {
        let absolutePath: (String) -> String? = { $0.hasPrefix("/") ? nil : "must be an absolute path" }
        let url: (String) -> String? = {
            $0.hasPrefix("https://") || $0.hasPrefix("http://") ? nil : "must be an http:// or https:// URL"
        }
        let nonEmpty: (String) -> String? = { $0.isEmpty ? "must not be empty" : nil }

        let paths = try root.section("paths")
        self.paths.runtimeDir = try paths.string("runtime_dir", default: self.paths.runtimeDir, check: absolutePath)
        self.paths.stateDir = try paths.string("state_dir", default: self.paths.stateDir, check: absolutePath)

        let access = try root.section("access")
        self.access.admins = try access.strings("admins", default: self.access.admins)
        self.access.submitters = try access.strings("submitters", default: self.access.submitters)
        let services = try access.section("services")
        for name in Self.serviceNames {
            self.access.services[name] = try services.string(name, default: "leadline-\(name)", check: nonEmpty)
        }

        let rpc = try root.section("rpc")
        self.rpc.maxLineBytes = try rpc.integer(
            "max_line_bytes", default: self.rpc.maxLineBytes, range: 1024...(64 << 20))
        self.rpc.maxConnectionsPerUID = try rpc.integer(
            "max_connections_per_uid", default: self.rpc.maxConnectionsPerUID, range: 1...100_000)
        self.rpc.idleTimeoutSeconds = try rpc.integer(
            "idle_timeout_seconds", default: self.rpc.idleTimeoutSeconds, range: 1...86_400)
        self.rpc.callTimeoutSeconds = try rpc.integer(
            "call_timeout_seconds", default: self.rpc.callTimeoutSeconds, range: 1...3_600)

        let log = try root.section("log")
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        logLevel = try log.string("level", default: logLevel) {
            levels.contains($0) ? nil : "must be one of \(levels.joined(separator: ", "))"
        }

        let meta = try root.section("meta")
        self.meta.appID = try meta.string("app_id", default: self.meta.appID)
        self.meta.appSecret = try meta.string("app_secret", default: self.meta.appSecret, check: nonEmpty)
        self.meta.verifyToken = try meta.string("verify_token", default: self.meta.verifyToken, check: nonEmpty)
        self.meta.graphBaseURL = try meta.string("graph_base_url", default: self.meta.graphBaseURL, check: url)
        self.meta.graphVersion = try meta.string("graph_version", default: self.meta.graphVersion) {
            $0.hasPrefix("v") ? nil : "must look like v25.0"
        }
        self.meta.pageTokenPrefix = try meta.string(
            "page_token_prefix", default: self.meta.pageTokenPrefix, check: nonEmpty)

        let ingest = try root.section("ingest")
        self.ingest.webhookListen = try ingest.string("webhook_listen", default: self.ingest.webhookListen) {
            $0.contains(":") ? nil : "must be host:port, e.g. 127.0.0.1:8470"
        }
        self.ingest.maxBodyBytes = try ingest.integer(
            "max_body_bytes", default: self.ingest.maxBodyBytes, range: 1024...(64 << 20))
        self.ingest.reconcileIntervalSeconds = try ingest.integer(
            "reconcile_interval_seconds", default: self.ingest.reconcileIntervalSeconds, range: 0...604_800)
        self.ingest.forms = try ingest.strings("forms", default: self.ingest.forms)

        let router = try root.section("router")
        self.router.maxAttemptsHours = try router.integer(
            "max_attempts_hours", default: self.router.maxAttemptsHours, range: 1...720)

        let vault = try root.section("vault")
        self.vault.rotateAfterEncryptions = try vault.integer(
            "rotate_after_encryptions", default: self.vault.rotateAfterEncryptions, range: 1...(1 << 32))
        self.vault.rotateAfterDays = try vault.integer(
            "rotate_after_days", default: self.vault.rotateAfterDays, range: 1...3650)

        let audit = try root.section("audit")
        self.audit.checkpointEveryEvents = try audit.integer(
            "checkpoint_every_events", default: self.audit.checkpointEveryEvents, range: 1...1_000_000)
        self.audit.checkpointEverySeconds = try audit.integer(
            "checkpoint_every_seconds", default: self.audit.checkpointEverySeconds, range: 1...86_400)
        self.audit.piiHashKey = try audit.string("pii_hash_key", default: self.audit.piiHashKey, check: nonEmpty)

        let retention = try root.section("retention")
        self.retention.leadDays = try retention.integer(
            "lead_days", default: self.retention.leadDays, range: 1...36_500)
        self.retention.deliveryLogDays = try retention.integer(
            "delivery_log_days", default: self.retention.deliveryLogDays, range: 1...36_500)
        self.retention.auditDays = try retention.integer(
            "audit_days", default: self.retention.auditDays, range: 1...36_500)

        try root.rejectUnknownKeys()
    }
}
