/// Phone numbers to E.164 when the country is known, from the number itself ("+49 …", "0049 …")
/// or from the lead's country; otherwise kept as entered (digits and the usual separators).
/// A deliberately small table: a wrong guess would send a lead's number to someone else.
enum PhoneNumber {
    struct Country {
        var callingCode: String
        /// Digits a national number starts with that E.164 drops (the trunk prefix).
        var trunkPrefix: String
        /// Digits of a national number without the trunk prefix.
        var nationalLengths: ClosedRange<Int>
    }

    static let countries: [String: Country] = [
        "DE": Country(callingCode: "49", trunkPrefix: "0", nationalLengths: 6...13),
        "AT": Country(callingCode: "43", trunkPrefix: "0", nationalLengths: 4...13),
        "CH": Country(callingCode: "41", trunkPrefix: "0", nationalLengths: 9...9),
        "FR": Country(callingCode: "33", trunkPrefix: "0", nationalLengths: 9...9),
        "GB": Country(callingCode: "44", trunkPrefix: "0", nationalLengths: 9...10),
        "IE": Country(callingCode: "353", trunkPrefix: "0", nationalLengths: 7...9),
        "IT": Country(callingCode: "39", trunkPrefix: "", nationalLengths: 6...11),
        "ES": Country(callingCode: "34", trunkPrefix: "", nationalLengths: 9...9),
        "NL": Country(callingCode: "31", trunkPrefix: "0", nationalLengths: 9...9),
        "BE": Country(callingCode: "32", trunkPrefix: "0", nationalLengths: 8...9),
        "PL": Country(callingCode: "48", trunkPrefix: "", nationalLengths: 9...9),
        "SE": Country(callingCode: "46", trunkPrefix: "0", nationalLengths: 7...9),
        "US": Country(callingCode: "1", trunkPrefix: "1", nationalLengths: 10...10),
        "CA": Country(callingCode: "1", trunkPrefix: "1", nationalLengths: 10...10),
        "RU": Country(callingCode: "7", trunkPrefix: "8", nationalLengths: 10...10),
        "TR": Country(callingCode: "90", trunkPrefix: "0", nationalLengths: 10...10),
        "IN": Country(callingCode: "91", trunkPrefix: "0", nationalLengths: 10...10),
        "BR": Country(callingCode: "55", trunkPrefix: "0", nationalLengths: 10...11),
        "AU": Country(callingCode: "61", trunkPrefix: "0", nationalLengths: 9...9),
    ]

    /// The normalized number, or nil when the answer is not a phone number at all.
    static func normalize(_ input: String, country: String?) -> String? {
        let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 40 else { return nil }
        let allowed = Set("0123456789+ ()./-")
        guard trimmed.allSatisfy({ allowed.contains($0) }) else { return nil }
        let digits = trimmed.filter(\.isNumber)
        guard digits.count >= 4 else { return nil }

        if trimmed.hasPrefix("+") { return e164(digits) }
        if digits.hasPrefix("00") { return e164(String(digits.dropFirst(2))) }
        if let country, let rules = countries[country] {
            var national = Substring(digits)
            if !rules.trunkPrefix.isEmpty, national.hasPrefix(rules.trunkPrefix),
                rules.nationalLengths.contains(national.count - rules.trunkPrefix.count)
            {
                national = national.dropFirst(rules.trunkPrefix.count)
            }
            if rules.nationalLengths.contains(national.count) { return e164(rules.callingCode + national) }
        }
        // Country unknown: keep what was entered when it reads as a number, else just the digits.
        return asEntered(trimmed) ?? digits
    }

    private static func e164(_ digits: String) -> String? {
        guard let first = digits.first, first != "0", (7...15).contains(digits.count) else { return nil }
        return "+" + digits
    }

    /// lead.schema.json: `\(?[0-9][0-9 ()./-]*[0-9]`. A '+' is allowed only first, where it makes
    /// the number E.164; inside ("345-67+-89") the router would refuse it.
    private static func asEntered(_ text: String) -> String? {
        var body = Substring(text)
        if body.hasPrefix("(") { body = body.dropFirst() }
        guard let first = body.first, first.isNumber, let last = body.last, last.isNumber, !body.contains("+")
        else { return nil }
        return text
    }
}
