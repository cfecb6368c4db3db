import LeadlineRuntime
import VaultCore

DaemonMain.start(service: "vault") { context in try await VaultDaemon.build(context) }
