import LeadlineRuntime
import RouterCore

DaemonMain.start(service: "router") { context in try await RouterDaemon.build(context) }
