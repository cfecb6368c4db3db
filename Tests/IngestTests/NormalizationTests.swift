import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import Testing

@testable import IngestCore

/// The pure parts: normalization rules, the appsecret_proof vector, webhook parsing.
@Suite struct NormalizationTests {
    @Test(
        arguments: [
            ("+49 151 2345 6789", nil, "+4915123456789"),
            ("0049 151 23456789", nil, "+4915123456789"),
            ("0151 2345 6789", "DE", "+4915123456789"),
            ("8 (912) 345-67-89", "RU", "+79123456789"),
            ("8 (912) 345-67-89", nil, "8 (912) 345-67-89"),
            ("(415) 555-0132", "US", "+14155550132"),
            ("call me maybe", "DE", nil),
        ] as [(String, String?, String?)])
    func phoneNumbersBecomeE164OnlyWhenTheCountryIsKnown(input: String, country: String?, expected: String?) {
        #expect(PhoneNumber.normalize(input, country: country) == expected)
    }

    @Test func appSecretProofMatchesTheFixtureVector() throws {
        let vector = try #require(try Fixtures.json("meta/appsecret-proof-vector.json") as? [String: String])
        let proof = WebhookSignature.appSecretProof(
            accessToken: vector["accessToken"]!, appSecret: vector["appSecret"]!)
        #expect(proof == vector["appsecretProof"])
    }

    @Test func fieldsAreTrimmedLowerCasedAndNamesSplit() {
        let normalized = LeadNormalizer.normalizeFields([
            "email": "  A.B@Example.ORG ", "fullName": " Maria  de la Cruz ", "city": "   ", "country": "germany",
        ])
        #expect(normalized.fields["email"] == "a.b@example.org")
        #expect(normalized.fields["firstName"] == "Maria de la")
        #expect(normalized.fields["lastName"] == "Cruz")
        #expect(normalized.fields["city"] == nil)
        #expect(normalized.fields["country"] == "DE")
        #expect(normalized.rejected.isEmpty)
        #expect(LeadNormalizer.normalizeFields(["email": "nope"]).rejected == ["email"])
    }

    @Test func webhookParsingKeepsEveryLeadgenChangeAndSkipsTheRest() throws {
        let mixed = try WebhookPayload.parse(Array(try Fixtures.data("meta/webhook-batch-mixed.json")))
        #expect(
            mixed.changes.map(\.leadgenID) == [
                "900000000000001", "900000000000002", "900000000000003", "900000000000001",
            ])
        #expect(mixed.skipped == 1)
        let numeric = try WebhookPayload.parse(Array(try Fixtures.data("meta/webhook-leadgen-int-ids.json")))
        #expect(numeric.changes.first?.leadgenID == "123123123123")
        #expect(numeric.changes.first?.pageID == "153125381133")
        #expect(numeric.changes.first?.createdTime == 1_440_120_384)
        #expect(throws: WebhookPayload.ParseError.self) { try WebhookPayload.parse(Array("nope".utf8)) }
    }

    @Test func aBooleanOrAnOutOfRangeNumberIsNoId() throws {
        func change(_ leadgenID: String) throws -> WebhookPayload {
            try WebhookPayload.parse(
                Array(
                    #"{"object":"page","entry":[{"id":"153125381133","changes":[{"field":"leadgen","value":{"leadgen_id":\#(leadgenID),"page_id":"153125381133","created_time":1440120384}}]}]}"#
                        .utf8))
        }
        #expect(try change("true").changes.isEmpty)
        #expect(try change("true").skipped == 1)
        #expect(try change("1e19").changes.isEmpty)
        #expect(try change("12.5").changes.isEmpty)
        #expect(try change("4.4e5").changes.first?.leadgenID == "440000")
        #expect(try change(#""77""#).changes.first?.leadgenID == "77")
        #expect(throws: WebhookPayload.ParseError.self) { try WebhookPayload.parse(Array("[1]".utf8)) }
    }

    @Test func graphTimesParse() {
        #expect(Timestamp.parse("2026-11-23T10:13:10+0000").map(Timestamp.format) == "2026-11-23T10:13:10.000Z")
        #expect(Timestamp.parse("2026-11-23T10:13:10Z") != nil)
        #expect(Timestamp.parse("yesterday") == nil)
    }
}
