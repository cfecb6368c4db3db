import RouterCore
import LeadlineRuntime

await DaemonMain.run(service: "router") { context in try await RouterDaemon.build(context) }
