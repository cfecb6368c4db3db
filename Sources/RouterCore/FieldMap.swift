import Foundation
import LeadlineRPC

/// A route's field map: CRM field -> lead field path, `{{path}}` template, or `{"const": value}`.
/// Checked once when the route is put, rendered for every delivery.
public enum FieldMap {
    /// Standard `fields` keys the canonical lead defines or names as allowed (lead.schema.json).
    static let standardFields: Set<String> = [
        "email", "phone", "fullName", "firstName", "lastName", "company", "jobTitle", "city", "country",
        "streetAddress", "postCode", "zipCode", "state", "province", "dateOfBirth", "gender", "workEmail",
        "workPhone", "website", "companySize", "industry", "maritalStatus", "militaryStatus", "relationshipStatus",
    ]
    static let sourceFields: Set<String> = [
        "platform", "pageId", "formId", "adId", "adsetId", "campaignId", "externalId", "isOrganic",
    ]

    /// Fields each CRM refuses a record without (HubSpot upserts by email).
    static func requiredFields(for kind: DestinationKind) -> [String] {
        switch kind {
        case .hubspot: return ["email"]
        case .salesforce: return ["LastName", "Company"]
        case .pipedrive: return ["name", "title"]
        case .webhook: return []
        }
    }

    /// Throws ValidationFailed naming the first CRM field whose source is not a lead field,
    /// or the first required CRM field without a source.
    static func validate(_ map: [String: JSONValue], for kind: DestinationKind) throws {
        for (crmField, source) in map.sorted(by: { $0.key < $1.key }) {
            switch source {
            case .string(let text):
                for path in paths(in: text) where !isKnownPath(path) {
                    throw RPCError.validationFailed(
                        "fieldMap.\(crmField): '\(path)' is not a lead field (use email, firstName, source.formId, custom.<question>, ...)"
                    )
                }
            case .object(let object) where object.keys.sorted() == ["const"]:
                continue
            default:
                throw RPCError.validationFailed(
                    "fieldMap.\(crmField) must be a lead field path, a template or {\"const\": value}")
            }
        }
        for required in requiredFields(for: kind) where map[required] == nil {
            throw RPCError.validationFailed(
                "fieldMap.\(required) is required by \(kind.rawValue): map it to a lead field or give a {\"const\": value} default"
            )
        }
    }

    /// The lead paths a field-map string refers to: the placeholders of a template, or the string itself.
    static func paths(in text: String) -> [String] {
        guard text.contains("{{") else { return [text.trimmingCharacters(in: .whitespaces)] }
        var found: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex) else {
                found.append(String(rest[open.upperBound...]).trimmingCharacters(in: .whitespaces))
                break
            }
            found.append(String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces))
            rest = rest[close.upperBound...]
        }
        return found
    }

    static func isKnownPath(_ path: String) -> Bool {
        if path == "id" || path == "createdAt" || path == "receivedAt" { return true }
        if path.hasPrefix("custom.") { return path.count > "custom.".count }
        if path.hasPrefix("fields.") { return isFieldName(String(path.dropFirst("fields.".count))) }
        if path.hasPrefix("source.") { return sourceFields.contains(String(path.dropFirst("source.".count))) }
        return standardFields.contains(path)
    }

    private static func isFieldName(_ name: String) -> Bool {
        name.range(of: "^[a-z][A-Za-z0-9]{0,63}$", options: .regularExpression) != nil
    }

    /// The value of a lead path, as text; nil when the lead does not have it.
    static func lookup(_ path: String, in lead: JSONValue) -> String? {
        let value: JSONValue?
        if path == "id" || path == "createdAt" || path == "receivedAt" {
            value = lead[path]
        } else if path.hasPrefix("custom.") {
            value = lead["custom"]?[String(path.dropFirst("custom.".count))]
        } else if path.hasPrefix("source.") {
            value = lead["source"]?[String(path.dropFirst("source.".count))]
        } else if path.hasPrefix("fields.") {
            value = lead["fields"]?[String(path.dropFirst("fields.".count))]
        } else {
            value = lead["fields"]?[path]
        }
        switch value {
        case .string(let text)?: return text
        case .bool(let flag)?: return flag ? "true" : "false"
        case .int(let number)?: return String(number)
        default: return nil
        }
    }

    /// CRM field -> value for one lead. Fields whose source the lead lacks are left out
    /// (a template keeps its literal parts only when at least one placeholder filled).
    static func render(_ map: [String: JSONValue], lead: JSONValue) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (crmField, source) in map {
            switch source {
            case .string(let text) where text.contains("{{"):
                var result = ""
                var filled = false
                var rest = Substring(text)
                while let open = rest.range(of: "{{"),
                    let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex)
                {
                    result += rest[..<open.lowerBound]
                    let path = String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
                    if let value = lookup(path, in: lead) {
                        result += value
                        filled = true
                    }
                    rest = rest[close.upperBound...]
                }
                result += rest
                let collapsed = result.split(whereSeparator: { $0 == " " }).joined(separator: " ")
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                if filled && !collapsed.isEmpty { out[crmField] = .string(collapsed) }
            case .string(let path):
                if let value = lookup(path.trimmingCharacters(in: .whitespaces), in: lead) {
                    out[crmField] = .string(value)
                }
            case .object(let object):
                if let constant = object["const"] { out[crmField] = constant }
            default:
                continue
            }
        }
        return out
    }
}
