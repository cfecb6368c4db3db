import LeadlineRuntime
import RouterCore

await DaemonMain.run(service: "router") { context in try await RouterDaemon.build(context) }
