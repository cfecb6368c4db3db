import IngestCore
import LeadlineRuntime

DaemonMain.start(service: "ingest") { context in try await IngestDaemon.build(context) }
