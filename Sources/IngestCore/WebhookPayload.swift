import Foundation

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

    /// Parsed with JSONSerialization rather than the wire layer's JSONValue decoder: this runs
    /// once per webhook on the hot path, and the Codable route costs several times as much.
    package static func parse(_ body: [UInt8]) throws(ParseError) -> WebhookPayload {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body))
        } catch {
            throw .notJSON
        }
        guard let root = parsed as? [String: Any] else { throw .notAnObject }
        var changes: [LeadgenChange] = []
        var skipped = 0
        for case let entry as [String: Any] in root["entry"] as? [Any] ?? [] {
            let entryPage = idString(entry["id"])
            for change in entry["changes"] as? [Any] ?? [] {
                guard let change = change as? [String: Any], change["field"] as? String == "leadgen",
                    let value = change["value"] as? [String: Any],
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

    /// Meta ids arrive as strings or as (integral) numbers; Leadline keeps strings.
    static func idString(_ value: Any?) -> String? {
        if let text = value as? String { return text.isEmpty ? nil : text }
        guard let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double.rounded() == double, abs(double) < 1e18 else { return nil }
        return String(number.int64Value)
    }

    /// Meta's created_time: whole seconds in `Timestamp.plausibleSeconds`, else unknown. NSNumber's
    /// int64Value would turn 1e300 or 2^64-1 into garbage rather than refuse it.
    static func unixSeconds(_ value: Any?) -> Int64? {
        guard let seconds = (value as? NSNumber)?.doubleValue, seconds.rounded() == seconds,
            Timestamp.plausibleSeconds.contains(seconds)
        else { return nil }
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
