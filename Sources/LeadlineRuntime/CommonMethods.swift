import Foundation
import LeadlineRPC
import LeadlineStorage
import Logging

public enum Ping: RPCMethod {
    public static let name = "service.ping"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable, JSONValueRepresentable {
        public var pong: Bool
        public var time: String

        public init(pong: Bool, time: String) {
            self.pong = pong
            self.time = time
        }

        public var jsonValue: JSONValue { .object(["pong": .bool(pong), "time": .string(time)]) }
    }
}

public enum Info: RPCMethod {
    public static let name = "service.info"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable {
        public var name: String
        public var version: String
        public var pid: Int
        public var uptimeSeconds: Double
        public var storagePath: String
        public var queues: [String: Int]
    }
}

public enum SetLogLevel: RPCMethod {
    public static let name = "service.setLogLevel"
    public struct Params: Codable, Sendable {
        public var level: String
    }
    public struct Result: Codable, Sendable {
        public var level: String
        public var previous: String
    }
}

public enum Metrics: RPCMethod {
    public static let name = "service.metrics"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable {
        public var contentType: String
        public var text: String
    }
}

/// The methods every daemon serves: introspection, liveness, identity, log level, metrics.
enum CommonMethods {
    static func register(
        into table: inout RPCMethodTable, service: String, context: DaemonContext, schema: OpenRPCSchema,
        storagePath: String, storage: Storage? = nil, queueDepths: @escaping @Sendable () async -> [String: Int]
    ) {
        let started = ContinuousClock.now
        let document = schema.document
        table.registerRaw("rpc.discover", .anyone) { _, _ in document }
        table.register(Ping.self, .anyone) { _, _ in
            Ping.Result(pong: true, time: AuditEvent.timestamp(Date()))
        }
        table.register(Info.self, .anyone) { _, _ in
            let uptime = ContinuousClock.now - started
            return Info.Result(
                name: service, version: context.version, pid: Int(getpid()),
                uptimeSeconds: Double(uptime.components.seconds) + Double(uptime.components.attoseconds) / 1e18,
                storagePath: storagePath, queues: await queueDepths())
        }
        table.register(SetLogLevel.self, .admin) { params, call in
            guard let level = Logger.Level(rawValue: params.level) else {
                throw RPCError.invalidParams(
                    "param 'level' must be one of trace, debug, info, notice, warning, error, critical")
            }
            let previous = context.logLevel.current
            context.logLevel.current = level
            call.logger.notice(
                "log level changed", metadata: ["from": "\(previous)", "to": "\(level)", "by": "\(call.caller.actor)"])
            return SetLogLevel.Result(level: level.rawValue, previous: previous.rawValue)
        }
        let metrics = context.metrics
        table.register(Metrics.self, .anyone) { _, _ in
            var text = metrics.render(service: service)
            if let storage { text += storageMetrics(storage, service: service) }
            return Metrics.Result(contentType: "text/plain; version=0.0.4", text: text)
        }
    }
}

/// Commits beside grouped writes: the proof, on a running daemon, that writes share fsyncs.
private func storageMetrics(_ storage: Storage, service: String) -> String {
    [
        "# HELP leadline_storage_commits_total Transactions committed to the daemon's database, one fsync each.",
        "# TYPE leadline_storage_commits_total counter",
        "leadline_storage_commits_total{service=\"\(service)\"} \(storage.commitCount)",
        "# HELP leadline_storage_grouped_writes_total Durable writes submitted for group commit; many share a commit under load.",
        "# TYPE leadline_storage_grouped_writes_total counter",
        "leadline_storage_grouped_writes_total{service=\"\(service)\"} \(storage.groupedWriteCount)",
    ].joined(separator: "\n") + "\n"
}
