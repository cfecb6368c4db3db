import Foundation
import LeadlineRPC
import LeadlineRuntime

/// The canonical lead (Schemas/lead.schema.json) as ingest stores, returns and hands it to the
/// router. Optional members are omitted on the wire when nil, never sent as null.
public struct Lead: Codable, Sendable, Hashable {
    public struct Source: Codable, Sendable, Hashable {
        public var platform: String
        public var pageId: String?
        public var formId: String?
        public var adId: String?
        public var adsetId: String?
        public var campaignId: String?
        public var externalId: String?
        public var isOrganic: Bool
    }

    public struct Consent: Codable, Sendable, Hashable {
        public var key: String
        public var checked: Bool
    }

    public var id: String
    public var source: Source
    public var createdAt: String
    public var receivedAt: String
    public var fields: [String: String]
    public var custom: [String: String]
    public var consents: [Consent]
    public var raw: JSONValue
}

/// What `ingest.submitLead` accepts: only `source.platform` and `fields` are required; ingest
/// assigns `id` and `receivedAt` and fills the rest with their defaults.
public struct LeadSubmission: Codable, Sendable {
    public struct Source: Codable, Sendable {
        public var platform: String
        public var pageId: String?
        public var formId: String?
        public var adId: String?
        public var adsetId: String?
        public var campaignId: String?
        public var externalId: String?
        public var isOrganic: Bool?
    }

    public var id: String?
    public var source: Source
    public var createdAt: String?
    public var receivedAt: String?
    public var fields: [String: String]
    public var custom: [String: String]?
    public var consents: [Lead.Consent]?
    public var raw: JSONValue?
}

/// Lead ids: "ld_" and a ULID (Crockford base32 of 48 bits of milliseconds and 80 random bits),
/// so ids sort roughly by creation and never collide across restarts.
enum LeadID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    static func make(now: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var characters = [UInt8](repeating: 0, count: 26)
        var time = millis
        for index in stride(from: 9, through: 0, by: -1) {
            characters[index] = alphabet[Int(time & 31)]
            time >>= 5
        }
        // 80 random bits from two draws (one getrandom call each, not one per character).
        var random = (generator.next() as UInt64, generator.next() as UInt64)
        for index in 10..<26 {
            characters[index] = alphabet[Int(random.0 & 31)]
            random = (random.0 >> 5 | random.1 << 59, random.1 >> 5)
        }
        return "ld_" + String(decoding: characters, as: UTF8.self)
    }
}

/// One timestamp format for everything ingest stores (the audit one: UTC, milliseconds), so
/// stored strings sort as the times do.
enum Timestamp {
    static func now() -> String { AuditEvent.timestamp(Date()) }

    static func format(_ date: Date) -> String { AuditEvent.timestamp(date) }

    /// Unix seconds a lead can have been created at: 1970 to the end of 9999. Outside it, format
    /// writes years RFC 3339 has no room for ("-4712-…", "20216-…"), which the lead schema, and so
    /// the router, refuses: handoff would then retry that lead for ever.
    static let plausibleSeconds: ClosedRange<Double> = 0...253_402_300_799

    /// Parses RFC 3339 with or without fractional seconds, and Graph's "+0000" offsets; nil for
    /// times outside `plausibleSeconds`, which the lenient ISO 8601 parser would let through.
    static func parse(_ text: String) -> Date? {
        parseAnyYear(text).flatMap { plausibleSeconds.contains($0.timeIntervalSince1970) ? $0 : nil }
    }

    private static func parseAnyYear(_ text: String) -> Date? {
        if let date = RFC3339.parse(text) { return date }
        // Graph writes 2026-11-23T10:13:10+0000: put the colon RFC 3339 wants into the offset.
        let characters = Array(text)
        if characters.count == 24, characters[19] == "+" || characters[19] == "-" {
            let fixed = String(characters[0..<22]) + ":" + String(characters[22...])
            return RFC3339.parse(fixed)
        }
        return nil
    }
}
