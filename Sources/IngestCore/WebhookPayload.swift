import Foundation
import LeadlineRPC

/// One leadgen change of a Meta webhook: what Meta tells us before we fetch the lead itself.
/// Ids are strings whether Meta sent numbers or strings.
public struct LeadgenChange: Sendable, Hashable {
    public var leadgenID: String
    public var pageID: String
    public var formID: String?
    public var adID: String?
    public var adgroupID: String?
    /// Unix seconds.
    public var createdTime: Int64?
}

/// The leadgen changes of a webhook body. Every entry and every change is looked at; changes of
/// other fields (feed, ...) and changes without a usable leadgen id are skipped, not refused,
/// because refusing would make Meta retry the whole batch for 36 hours.
/// Package-visible so the fuzzer (leadline-fuzz) runs the daemon's own parser.
package struct WebhookPayload {
    package enum ParseError: Error {
        case notJSON
        case notAnObject
    }

    package var changes: [LeadgenChange]
    package var skipped: Int

    /// Parsed with the wire layer's strict JSONParser into JSONValue: this runs once per webhook
    /// on the hot path, where JSONSerialization and its boxed Foundation objects cost several
    /// times as much.
    package static func parse(_ body: [UInt8]) throws(ParseError) -> WebhookPayload {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(body)
        } catch {
            throw .notJSON
        }
        guard case .object(let root) = parsed else { throw .notAnObject }
        var changes: [LeadgenChange] = []
        var skipped = 0
        for case .object(let entry) in root["entry"]?.arrayValue ?? [] {
            let entryPage = idString(entry["id"])
            for change in entry["changes"]?.arrayValue ?? [] {
                guard case .object(let change) = change, change["field"]?.stringValue == "leadgen",
                    case .object(let value) = change["value"],
                    let leadgenID = idString(value["leadgen_id"]), isSafeID(leadgenID),
                    let pageID = idString(value["page_id"]) ?? entryPage, isSafeID(pageID)
                else {
                    skipped += 1
                    continue
                }
                func optionalID(_ key: String) -> String? { idString(value[key]).flatMap { isSafeID($0) ? $0 : nil } }
                changes.append(
                    LeadgenChange(
                        leadgenID: leadgenID, pageID: pageID, formID: optionalID("form_id"), adID: optionalID("ad_id"),
                        adgroupID: optionalID("adgroup_id"),
                        createdTime: unixSeconds(value["created_time"])))
            }
        }
        return WebhookPayload(changes: changes, skipped: skipped)
    }

    /// Meta ids arrive as strings or as (integral) numbers; Leadline keeps strings. A boolean is
    /// not an id.
    static func idString(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text): return text.isEmpty ? nil : text
        case .int(let number): return number.magnitude < 1_000_000_000_000_000_000 ? String(number) : nil
        case .double(let number):
            guard number.rounded() == number, abs(number) < 1e18 else { return nil }
            return String(Int64(number))
        default: return nil
        }
    }

    /// Meta's created_time: whole seconds in `Timestamp.plausibleSeconds`, else unknown; 1e300
    /// or 2^64-1 is refused rather than turned into garbage.
    static func unixSeconds(_ value: JSONValue?) -> Int64? {
        let seconds: Double
        switch value {
        case .int(let number): seconds = Double(number)
        case .double(let number): seconds = number
        default: return nil
        }
        guard seconds.rounded() == seconds, Timestamp.plausibleSeconds.contains(seconds) else { return nil }
        return Int64(seconds)
    }

    /// Ids end up in Graph API paths and vault secret names: digits, letters, '_' and '-' only.
    static func isSafeID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy {
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45
            }
    }
}
