import IngestCore
import LeadlineRPC
import LeadlineRuntime

/// A lead ingest stores must be one the router accepts: handoff retries a refused lead for ever,
/// so a normalized lead that breaks router.enqueueLead's params schema is a finding, like a crash.
enum RouterAcceptance {
    static let routerSchema: OpenRPCSchema = {
        do { return try OpenRPCSchema(service: "router") } catch { fatalError("router schema: \(error)") }
    }()

    /// Encodes the lead as HandoffWorker does and checks it as the router's dispatcher does.
    static func require(_ lead: Lead) {
        let encoded: JSONValue
        do { encoded = try JSONCoding.value(of: lead) } catch { fatalError("the lead does not encode: \(error)") }
        if let refusal = routerSchema.checkParams(method: "router.enqueueLead", params: ["lead": encoded]) {
            fatalError("router.enqueueLead would refuse the lead: \(refusal.description)")
        }
    }
}
