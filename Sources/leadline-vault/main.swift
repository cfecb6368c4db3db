import LeadlineRuntime
import VaultCore

await DaemonMain.run(service: "vault") { context in try await VaultDaemon.build(context) }
