import IngestCore
import LeadlineRPC

/// A Graph API answer on hostile bytes, normalized along both of leadline-ingest's paths: a
/// lead fetched for a webhook change (retrieval) and a lead listed in /{form-id}/leads
/// (reconciliation), whose change is built from the answer itself.
enum GraphFuzzTarget {
    static let receivedAt = "2026-01-01T00:00:00.000Z"

    /// The change retrieval works from, made by the daemon's webhook parser.
    static let webhookChange: LeadgenChange? = {
        let body = #"""
            {"object":"page","entry":[{"id":"1234","time":1700000000,"changes":[{"field":"leadgen",
            "value":{"leadgen_id":"5678","page_id":"1234","form_id":"9012","ad_id":"3456",
            "adgroup_id":"7890","created_time":1700000000}}]}]}
            """#
        return try? WebhookPayload.parse(Array(body.utf8)).changes.first
    }()

    static func run(_ bytes: [UInt8]) {
        guard let answer = try? JSONCoding.parse(bytes) else { return }
        guard let webhookChange else { fatalError("the fixed webhook body no longer parses") }
        // GraphClient hands retrieval nothing but objects: any other answer is a failed fetch.
        if case .object = answer { normalize(answer, change: webhookChange) }
        // A page of /{form-id}/leads: every element of data is a listed lead.
        for listed in [answer] + (answer["data"]?.arrayValue ?? []) {
            guard let change = LeadgenChange(listedLead: listed, pageID: "1234", formID: "9012") else { continue }
            normalize(listed, change: change)
        }
    }

    private static func normalize(_ raw: JSONValue, change: LeadgenChange) {
        RouterAcceptance.require(
            LeadNormalizer.fromGraph(raw, leadID: "ld_fuzz", change: change, receivedAt: receivedAt))
    }
}
