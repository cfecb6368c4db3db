import Foundation
import LeadlineConfig
import LeadlineRPC
import LeadlineStorage
import LeadlineSystemd
import Logging
import NIOConcurrencyHelpers

/// What the runtime hands a daemon core while it is built: config, logging, metrics, its
/// state folder and credentials, sockets systemd passed besides "rpc", and clients for the
/// other daemons.
public final class DaemonContext: Sendable {
    public let service: String
    public let version: String
    public let config: LeadlineConfig
    public let logger: Logger
    public let logLevel: SharedLogLevel
    public let metrics: RPCMetrics
    public let credentials: Credentials
    public let notifier: SystemdNotifier
    private let listenFDs: NIOLockedValueBox<ListenFDs>
    private let clients = NIOLockedValueBox([String: RPCClient]())

    init(
        service: String, version: String, config: LeadlineConfig, logger: Logger, logLevel: SharedLogLevel,
        listenFDs: ListenFDs
    ) {
        self.service = service
        self.version = version
        self.config = config
        self.logger = logger
        self.logLevel = logLevel
        self.metrics = RPCMetrics()
        self.credentials = Credentials(directory: config.credentialsDirectory)
        self.notifier = SystemdNotifier()
        self.listenFDs = NIOLockedValueBox(listenFDs)
    }

    public var stateDirectory: String { config.paths.state(service) }
    public var databasePath: String { "\(stateDirectory)/\(service).sqlite" }

    /// A socket systemd passed under `name` (e.g. "webhook"), taken once.
    public func takeListenFD(_ name: String) -> CInt? {
        listenFDs.withLockedValue { $0.take(name) }
    }

    /// A shared client for another daemon's socket (connecting starts it under socket activation).
    public func client(for service: String) -> RPCClient {
        clients.withLockedValue { clients in
            if let client = clients[service] { return client }
            let client = RPCClient(socketPath: config.paths.socket(service), callTimeout: .seconds(30))
            clients[service] = client
            return client
        }
    }

    /// Opens this daemon's database with its migrations plus the audit spool's.
    public func openStorage(migrations: [Storage.Migration], withAuditSpool: Bool = true) throws -> Storage {
        try Storage(
            path: databasePath, migrations: withAuditSpool ? AuditSpool.migrations(around: migrations) : migrations)
    }

    public func auditSpool(storage: Storage) -> AuditSpool {
        AuditSpool(storage: storage, client: client(for: "audit"), logger: logger)
    }
}
