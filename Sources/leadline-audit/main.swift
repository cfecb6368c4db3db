import AuditCore
import LeadlineRuntime

DaemonMain.start(service: "audit") { context in try await AuditDaemon.build(context) }
