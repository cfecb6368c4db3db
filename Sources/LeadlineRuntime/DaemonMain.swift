import Foundation
import LeadlineConfig
import LeadlineRPC
import LeadlineStorage
import LeadlineSystemd
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// What a daemon core contributes: its methods, its database, its background services and the
/// numbers `service.info` reports.
public struct DaemonBody: Sendable {
    public var table: RPCMethodTable
    public var storage: Storage?
    public var services: [any Service]
    public var queueDepths: @Sendable () async -> [String: Int]

    public init(
        table: RPCMethodTable, storage: Storage?, services: [any Service] = [],
        queueDepths: @escaping @Sendable () async -> [String: Int] = { [:] }
    ) {
        self.table = table
        self.storage = storage
        self.services = services
        self.queueDepths = queueDepths
    }
}

/// The one start-up and shut-down sequence every Leadline daemon runs: config, logging, the
/// "rpc" socket (adopted from systemd or bound by hand), storage via the core, READY=1,
/// watchdog, and on SIGTERM: stop accepting, finish running calls, stop workers, close storage.
public enum DaemonMain {
    public static let version = "0.1.0"

    /// Exit status for problems only an operator can fix (bad config, missing key, corrupt
    /// database); the units list it in RestartPreventExitStatus= so systemd does not loop.
    public static let operatorActionNeeded: Int32 = 78

    /// The executables' entry point. NIO's event loops become Swift concurrency's executor
    /// first, so a call's task runs on the thread that read its request and answers without a
    /// cross-thread wake-up; handlers therefore must never block (storage calls are async).
    public static func start(
        service: String, build: @escaping @Sendable (DaemonContext) async throws -> DaemonBody
    ) -> Never {
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        Task { await run(service: service, build: build) }
        dispatchMain()
    }

    public static func run(service: String, build: @Sendable (DaemonContext) async throws -> DaemonBody) async -> Never
    {
        let logLevel = SharedLogLevel(.info)
        LoggingSystem.bootstrap { label in
            JournalLogHandler(label: label, identifier: "leadline-\(service)", level: logLevel)
        }
        var logger = Logger(label: "leadline.\(service)")
        logger[metadataKey: "service"] = "\(service)"

        let config: LeadlineConfig
        do {
            config = try LeadlineConfig.load()
        } catch {
            fail(service, "\(error)", logger: logger)
        }
        logLevel.current = Logger.Level(rawValue: config.logLevel) ?? .info

        var listenFDs = ListenFDs.fromEnvironment()
        let rpcFD: CInt
        if let adopted = listenFDs.take("rpc") ?? (listenFDs.byName.count == 1 ? listenFDs.take("unknown") : nil) {
            rpcFD = adopted
            logger.info("adopted the rpc socket from systemd")
        } else {
            do {
                rpcFD = try ListeningSocket.bindUnix(path: config.paths.socket(service), mode: 0o660)
                logger.info("bound the rpc socket", metadata: ["path": "\(config.paths.socket(service))"])
            } catch {
                fail(service, "\(error)", logger: logger)
            }
        }

        let context = DaemonContext(
            service: service, version: version, config: config, logger: logger, logLevel: logLevel,
            listenFDs: listenFDs)
        let body: DaemonBody
        do {
            body = try await build(context)
        } catch {
            fail(service, "\(error)", logger: logger)
        }

        let schema: OpenRPCSchema
        do {
            schema = try OpenRPCSchema(service: service)
        } catch {
            fail(service, "\(error)", logger: logger)
        }
        var table = body.table
        CommonMethods.register(
            into: &table, service: service, context: context, schema: schema, storagePath: body.storage?.path ?? "",
            storage: body.storage, queueDepths: body.queueDepths)
        let undocumented = table.methodNames.filter { !schema.hasMethod($0) }
        if !undocumented.isEmpty {
            fail(
                service,
                "methods missing from Schemas/\(service).openrpc.json: \(undocumented.joined(separator: ", "))",
                logger: logger)
        }

        let environment = ProcessInfo.processInfo.environment
        let dispatcher = RPCDispatcher(
            table: table, schema: schema, callTimeout: config.rpcLimits.callTimeout, metrics: context.metrics,
            checkResults: environment["LEADLINE_CHECK_RESULTS"] == "1", logger: logger)
        let server = RPCServer(dispatcher: dispatcher, access: config.access, limits: config.rpcLimits, logger: logger)
        do {
            try await server.start(listeningOn: rpcFD)
        } catch {
            fail(service, "cannot serve the rpc socket: \(error)", logger: logger)
        }

        context.notifier.ready(status: "serving \(table.methodNames.count) methods")
        logger.notice("ready", metadata: ["version": "\(version)", "pid": "\(getpid())"])

        // The RPC server comes last: graceful shutdown runs in reverse, so it stops accepting
        // and drains its calls before the workers below it stop.
        let services: [any Service] =
            [WatchdogService(notifier: context.notifier)] + body.services + [
                RPCServerService(server: server, notifier: context.notifier)
            ]
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map {
                    .init(
                        service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup)
                },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        var exitCode: Int32 = 0
        do {
            try await group.run()
        } catch {
            logger.error("stopped on error", metadata: ["error": "\(error)"])
            exitCode = 1
        }
        do {
            try body.storage?.close()
        } catch {
            logger.error("closing storage failed", metadata: ["error": "\(error)"])
        }
        logger.notice("stopped")
        exit(exitCode)
    }

    static func fail(_ service: String, _ message: String, logger: Logger) -> Never {
        // One line on stderr names the problem: that is what `systemctl status` shows.
        FileHandle.standardError.write(Data("leadline-\(service): \(message)\n".utf8))
        if JournalLogHandler.underJournald { logger.critical("\(message)") }
        exit(operatorActionNeeded)
    }
}

struct RPCServerService: Service, CustomStringConvertible {
    let server: RPCServer
    let notifier: SystemdNotifier
    var description: String { "rpc-server" }

    func run() async throws {
        try? await gracefulShutdown()
        notifier.stopping()
        await server.shutdown()
    }
}

struct WatchdogService: Service, CustomStringConvertible {
    let notifier: SystemdNotifier
    var description: String { "watchdog" }

    func run() async throws {
        guard notifier.watchdogInterval != nil else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await notifier.runWatchdog() }
    }
}
