import ArgumentParser
import Foundation

/// `leadctl`: the operator's tool for all four daemons.
public struct Leadctl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "leadctl",
        abstract: "Operate Leadline: its daemons, secrets, leads, deliveries and audit log.",
        discussion: """
            leadctl talks JSON-RPC to the four Leadline daemons over their Unix sockets
            (/run/leadline/{vault,ingest,router,audit}.sock). Connecting starts a daemon that
            is socket-activated but not yet running.

            ENVIRONMENT
              LEADLINE_CONFIG       config file (default /etc/leadline/leadline.toml)
              LEADLINE_RUNTIME_DIR  folder of the daemons' sockets (overrides [paths] runtime_dir)

            EXIT STATUS
              0  success
              1  the operation failed (the daemon answered with an error)
              2  usage error (unknown command or option, bad argument)
              3  a daemon is unreachable (not running, no permission on its socket)
            """,
        subcommands: [
            StatusCommand.self, DoctorCommand.self, SecretsCommand.self, LeadsCommand.self, IngestCommand.self,
            TestLeadCommand.self,
            DestinationsCommand.self, RoutesCommand.self, DeliveriesCommand.self, AuditCommand.self,
            PrivacyCommand.self, MetaCommand.self,
            CallCommand.self, DiscoverCommand.self, ManualCommand.self,
        ])

    public init() {}

    /// Runs leadctl with the documented exit codes (ArgumentParser's usage code 64 becomes 2).
    public static func runMain(arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Never {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let failure as LeadctlFailure {
            Output.standardError(Data("leadctl: \(failure.message)\n".utf8))
            Foundation.exit(failure.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Output.standardError(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// A failure leadctl reports with a message that says what to do next, and its exit code.
public struct LeadctlFailure: Error {
    public var message: String
    public var exitCode: Int32

    public static func failed(_ message: String) -> LeadctlFailure { LeadctlFailure(message: message, exitCode: 1) }
    public static func usage(_ message: String) -> LeadctlFailure { LeadctlFailure(message: message, exitCode: 2) }
    public static func unreachable(_ message: String) -> LeadctlFailure {
        LeadctlFailure(message: message, exitCode: 3)
    }
}
