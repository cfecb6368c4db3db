import VaultCore
import LeadlineRuntime

await DaemonMain.run(service: "vault") { context in try await VaultDaemon.build(context) }
