import IngestCore
import LeadlineRuntime

await DaemonMain.run(service: "ingest") { context in try await IngestDaemon.build(context) }
