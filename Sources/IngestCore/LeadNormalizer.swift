import Foundation
import LeadlineRPC

/// Turns a platform's answers into canonical lead fields: trimmed, empty answers dropped, email
/// lower-cased, phone in E.164 when the country is known, names split. Meta's standard
/// questions map to lead fields; every other question goes to `custom`. The raw object is kept
/// untouched beside the result.
/// Package-visible so the fuzzer (leadline-fuzz) normalizes hostile Graph answers with this code.
package enum LeadNormalizer {
    /// Meta's standard field names -> canonical field names.
    static let metaStandardFields: [String: String] = [
        "email": "email", "full_name": "fullName", "first_name": "firstName", "last_name": "lastName",
        "phone_number": "phone", "phone": "phone", "city": "city", "country": "country",
        "company_name": "company", "company": "company", "job_title": "jobTitle", "street_address": "streetAddress",
        "post_code": "postCode", "zip_code": "postCode", "zip": "postCode", "state": "state", "province": "state",
        "date_of_birth": "dateOfBirth", "gender": "gender", "work_email": "workEmail",
        "work_phone_number": "workPhone",
    ]

    static let countryNames: [String: String] = [
        "germany": "DE", "deutschland": "DE", "austria": "AT", "österreich": "AT", "switzerland": "CH",
        "schweiz": "CH", "france": "FR", "united kingdom": "GB", "uk": "GB", "great britain": "GB",
        "ireland": "IE", "italy": "IT", "italia": "IT", "spain": "ES", "españa": "ES", "netherlands": "NL",
        "belgium": "BE", "poland": "PL", "polska": "PL", "sweden": "SE", "united states": "US", "usa": "US",
        "canada": "CA", "russia": "RU", "россия": "RU", "turkey": "TR", "türkiye": "TR", "india": "IN",
        "brazil": "BR", "brasil": "BR", "australia": "AU",
    ]

    /// A Graph API lead object and what the webhook said about it -> a canonical lead.
    package static func fromGraph(
        _ raw: JSONValue, leadID: String, change: LeadgenChange, receivedAt: String
    ) -> Lead {
        var answers: [(name: String, values: [String])] = []
        for item in raw["field_data"]?.arrayValue ?? [] {
            guard let name = item["name"]?.stringValue, !name.isEmpty else { continue }
            let values = (item["values"]?.arrayValue ?? []).compactMap { value -> String? in
                value.stringValue ?? value.intValue.map(String.init) ?? value.doubleValue.map { "\($0)" }
            }
            answers.append((name, values))
        }
        var standard: [String: String] = [:]
        var custom: [String: String] = [:]
        for answer in answers {
            let values = answer.values.map(trim).filter { !$0.isEmpty }
            guard !values.isEmpty else { continue }
            if let field = metaStandardFields[answer.name.lowercased()] {
                if standard[field] == nil { standard[field] = values[0] }
            } else {
                custom[String(answer.name.prefix(500))] = String(values.joined(separator: ", ").prefix(10000))
            }
        }
        let consents = (raw["custom_disclaimer_responses"]?.arrayValue ?? []).compactMap { item -> Lead.Consent? in
            guard let key = item["checkbox_key"]?.stringValue, !key.isEmpty else { return nil }
            let checked = item["is_checked"]?.stringValue == "1" || item["is_checked"]?.boolValue == true
            return Lead.Consent(key: String(key.prefix(500)), checked: checked)
        }

        let adID = safeIDString(raw["ad_id"]) ?? change.adID
        let isOrganic = raw["is_organic"]?.boolValue ?? (adID == nil)
        let createdAt =
            raw["created_time"]?.stringValue.flatMap(Timestamp.parse).map(Timestamp.format)
            ?? change.createdTime.map { Timestamp.format(Date(timeIntervalSince1970: TimeInterval($0))) } ?? receivedAt
        let source = Lead.Source(
            platform: raw["platform"]?.stringValue == "ig" ? "instagram" : "facebook",
            pageId: change.pageID, formId: safeIDString(raw["form_id"]) ?? change.formID ?? "unknown",
            adId: isOrganic ? nil : adID,
            adsetId: isOrganic ? nil : (safeIDString(raw["adset_id"]) ?? change.adgroupID),
            campaignId: isOrganic ? nil : safeIDString(raw["campaign_id"]),
            externalId: change.leadgenID, isOrganic: isOrganic)
        return Lead(
            id: leadID, source: source, createdAt: createdAt, receivedAt: receivedAt,
            fields: normalizeFields(standard).fields, custom: custom, consents: consents, raw: raw)
    }

    struct NormalizedFields {
        var fields: [String: String]
        /// Field names whose answer could not be normalized (kept in raw only).
        var rejected: [String]
    }

    /// Normalizes canonical-named fields. Answers that fail (an email that is no address) are left
    /// out and named in `rejected`; submitLead refuses those, Meta leads keep them in raw only.
    static func normalizeFields(_ input: [String: String]) -> NormalizedFields {
        var fields: [String: String] = [:]
        var rejected: [String] = []
        for (key, value) in input {
            let trimmed = trim(value)
            if trimmed.isEmpty { continue }
            // Trimmed again after the cut: a cut at a space would end the answer with one, which
            // the lead schema (and so the router) refuses.
            fields[key] = trim(String(trimmed.prefix(1000)))
        }
        if let country = fields["country"] { fields["country"] = normalizeCountry(country) }
        if let email = fields["email"] {
            if let normalized = normalizeEmail(email) {
                fields["email"] = normalized
            } else {
                fields["email"] = nil
                rejected.append("email")
            }
        }
        for key in ["phone", "workPhone"] {
            guard let phone = fields[key] else { continue }
            let country = fields["country"].flatMap { $0.count == 2 ? $0 : nil }
            if let normalized = PhoneNumber.normalize(phone, country: country) {
                fields[key] = normalized
            } else {
                fields[key] = nil
                rejected.append(key)
            }
        }
        if let workEmail = fields["workEmail"] {
            if let normalized = normalizeEmail(workEmail) {
                fields["workEmail"] = normalized
            } else {
                fields["workEmail"] = nil
                rejected.append("workEmail")
            }
        }
        if let full = fields["fullName"], fields["firstName"] == nil, fields["lastName"] == nil {
            let parts = full.split(whereSeparator: \.isWhitespace)
            if parts.count >= 2 {
                fields["firstName"] = parts.dropLast().joined(separator: " ")
                fields["lastName"] = String(parts.last!)
            } else {
                fields["firstName"] = full
            }
        } else if fields["fullName"] == nil, fields["firstName"] != nil || fields["lastName"] != nil {
            fields["fullName"] = [fields["firstName"], fields["lastName"]].compactMap { $0 }.joined(separator: " ")
        }
        return NormalizedFields(fields: fields, rejected: rejected.sorted())
    }

    /// Trimmed and lower-cased; nil when it is not a plausible address.
    static func normalizeEmail(_ input: String) -> String? {
        let email = trim(input).lowercased()
        // Scalar by scalar, as the lead schema's pattern reads it: one Character can hide a space
        // or an '@' behind a prepended or combining mark ("a\u{600} b@c.de").
        let scalars = email.unicodeScalars
        let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), parts[1].first != ".",
            parts[1].last != ".", email.count <= 320, !scalars.contains(where: \.properties.isWhitespace)
        else { return nil }
        return email
    }

    static func normalizeCountry(_ input: String) -> String {
        let trimmed = trim(input)
        if trimmed.count == 2, trimmed.allSatisfy(\.isLetter) { return trimmed.uppercased() }
        return countryNames[trimmed.lowercased()] ?? trimmed
    }

    static func trim(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// An id from a Graph answer, kept only when it is one the webhook parser would keep: the
    /// lead schema wants source ids without spaces and short, and the router refuses any other.
    static func safeIDString(_ value: JSONValue?) -> String? {
        idString(value).flatMap { WebhookPayload.isSafeID($0) ? $0 : nil }
    }

    /// Meta ids arrive as strings or numbers; Leadline keeps strings.
    static func idString(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: return text.isEmpty ? nil : text
        case .int(let number)?: return String(number)
        case .double(let number)? where number.rounded() == number && abs(number) < 1e18:
            return String(Int64(number))
        default: return nil
        }
    }
}
