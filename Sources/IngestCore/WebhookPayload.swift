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
struct WebhookPayload {
    enum ParseError: Error {
        case notJSON
        case notAnObject
    }

    var changes: [LeadgenChange]
    var skipped: Int

    static func parse(_ body: [UInt8]) throws(ParseError) -> WebhookPayload {
        let root: JSONValue
        do {
            root = try JSONCoding.parse(body)
        } catch {
            throw .notJSON
        }
        guard case .object = root else { throw .notAnObject }
        var changes: [LeadgenChange] = []
        var skipped = 0
        for entry in root["entry"]?.arrayValue ?? [] {
            let entryPage = LeadNormalizer.idString(entry["id"])
            for change in entry["changes"]?.arrayValue ?? [] {
                guard change["field"]?.stringValue == "leadgen", let value = change["value"],
                    let leadgenID = LeadNormalizer.idString(value["leadgen_id"]), isSafeID(leadgenID),
                    let pageID = LeadNormalizer.idString(value["page_id"]) ?? entryPage, isSafeID(pageID)
                else {
                    skipped += 1
                    continue
                }
                let formID = LeadNormalizer.idString(value["form_id"]).flatMap { isSafeID($0) ? $0 : nil }
                changes.append(
                    LeadgenChange(
                        leadgenID: leadgenID, pageID: pageID, formID: formID,
                        adID: LeadNormalizer.idString(value["ad_id"]).flatMap { isSafeID($0) ? $0 : nil },
                        adgroupID: LeadNormalizer.idString(value["adgroup_id"]).flatMap { isSafeID($0) ? $0 : nil },
                        createdTime: value["created_time"]?.intValue))
            }
        }
        return WebhookPayload(changes: changes, skipped: skipped)
    }

    /// Ids end up in Graph API paths and vault secret names: digits, letters, '_' and '-' only.
    static func isSafeID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy {
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45
            }
    }
}
