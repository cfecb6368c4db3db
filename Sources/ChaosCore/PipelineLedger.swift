import Foundation
import LeadlineRPC
import LeadlineTestDoubles

/// Where every lead ended up, read after the run from the three places that know: the CRM
/// double (what HubSpot received), ingest (which Leadline ids a leadgen id got) and the router
/// (each lead's deliveries and why the dead ones died).
struct PipelineLedger {
    struct Delivery {
        var state: String
        var lastError: String?
    }

    /// Contacts in the CRM double, by email.
    var contacts: Set<String> = []
    /// Distinct Leadline ids the CRM was sent for each email: more than one is a lead created twice.
    var crmLeadIDs: [String: Set<String>] = [:]
    /// Upserts per email beyond the first: at-least-once on the wire, harmless with an upsert.
    var rewrites = 0
    /// Audit events recorded more than once: a lead is enqueued once and each delivery ends
    /// delivered once, so a second such event is a spooled event appended twice.
    var auditRepeats = 0
    var ingestLeadIDs: [String: [String]] = [:]
    var deliveries: [String: [Delivery]] = [:]

    static func read(from chaos: ChaosStack) async throws -> PipelineLedger {
        var ledger = PipelineLedger()
        ledger.contacts = Set(chaos.hubspot.records.keys)
        var upserts: [String: Int] = [:]
        for request in chaos.hubspot.server.requests where request.path.hasSuffix("/contacts/batch/upsert") {
            let inputs = (request.json as? [String: Any])?["inputs"] as? [[String: Any]] ?? []
            for input in inputs {
                guard let email = input["id"] as? String else { continue }
                upserts[email, default: 0] += 1
                if let id = (input["properties"] as? [String: Any])?[ChaosStack.leadIDProperty] as? String {
                    ledger.crmLeadIDs[email, default: []].insert(id)
                }
            }
        }
        ledger.rewrites = upserts.values.reduce(0) { $0 + max($1 - 1, 0) }
        for lead in try await pages(chaos, "ingest", "ingest.listLeads") {
            guard let id = lead["id"]?.stringValue, let external = lead["source"]?["externalId"]?.stringValue else {
                continue
            }
            ledger.ingestLeadIDs[external, default: []].append(id)
        }
        for item in try await pages(chaos, "router", "router.listDeliveries") {
            guard let leadID = item["leadId"]?.stringValue, let state = item["state"]?.stringValue else { continue }
            ledger.deliveries[leadID, default: []].append(
                Delivery(state: state, lastError: item["lastError"]?.stringValue))
        }
        var onceEvents: [String: Int] = [:]
        for event in try await pages(chaos, "audit", "audit.query", ["action": "router.*"]) {
            let action = event["action"]?.stringValue ?? ""
            let outcome = event["outcome"]?.stringValue ?? ""
            guard action == "router.enqueueLead" || (action == "router.deliver" && outcome == "delivered") else {
                continue
            }
            onceEvents[action + " " + (event["subject"]?.stringValue ?? ""), default: 0] += 1
        }
        ledger.auditRepeats = onceEvents.values.reduce(0) { $0 + $1 - 1 }
        return ledger
    }

    /// Every item of a paged list method.
    private static func pages(
        _ chaos: ChaosStack, _ service: String, _ method: String, _ filter: [String: JSONValue] = [:]
    ) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        var cursor: String?
        repeat {
            var params = filter
            params["limit"] = 1000
            if let cursor { params["cursor"] = .string(cursor) }
            let page = try await chaos.call(service, method, .object(params))
            items += page["items"]?.arrayValue ?? []
            cursor = page["nextCursor"]?.stringValue
        } while cursor != nil
        return items
    }

    /// The email the Graph API double gives a synthetic lead, as ingest normalizes it.
    static func email(ofLeadgenID id: String) -> String { "lead.\(id)@example.com" }

    enum Outcome {
        case delivered
        case dead
        case lost
    }

    func outcome(ofLeadgenID id: String) -> Outcome {
        if contacts.contains(Self.email(ofLeadgenID: id)) { return .delivered }
        let leadDeliveries = (ingestLeadIDs[id] ?? []).flatMap { deliveries[$0] ?? [] }
        if leadDeliveries.contains(where: { $0.state == "dead" && !($0.lastError ?? "").isEmpty }) { return .dead }
        return .lost
    }

    /// True when the lead exists twice anywhere: two Leadline ids, two deliveries, two CRM leads.
    func isDuplicated(leadgenID id: String) -> Bool {
        let ids = ingestLeadIDs[id] ?? []
        if ids.count > 1 { return true }
        if ids.contains(where: { (deliveries[$0]?.count ?? 0) > 1 }) { return true }
        return (crmLeadIDs[Self.email(ofLeadgenID: id)]?.count ?? 0) > 1
    }
}
