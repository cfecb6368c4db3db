import AuditCore
import LeadlineRuntime

await DaemonMain.run(service: "audit") { context in try await AuditDaemon.build(context) }
