import Foundation
import LeadlineRPC
import Testing

@testable import IngestCore

/// Inputs `make fuzz` found (webhook and graph targets): each made a lead the router refuses,
/// which handoff would retry for ever. Now the bad value is dropped and a sound one used instead.
@Suite struct HostileInputTests {
    static let receivedAt = "2026-11-23T10:13:10.000Z"

    static func change(_ value: String) throws -> LeadgenChange {
        let body = #"{"entry":[{"id":"1","changes":[{"field":"leadgen","value":{\#(value)}}]}]}"#
        return try #require(try WebhookPayload.parse(Array(body.utf8)).changes.first)
    }

    @Test(arguments: ["176000000000003900192", "1e300", "18446744073709551615", "-1", "253402300800", "1.5"])
    func webhookCreatedTimesOutsideTheYears1970To9999AreUnknown(createdTime: String) throws {
        let change = try Self.change(#""leadgen_id":"2","created_time":\#(createdTime)"#)
        #expect(change.createdTime == nil)
        let lead = LeadNormalizer.fromGraph([:], leadID: "ld_1", change: change, receivedAt: Self.receivedAt)
        #expect(lead.createdAt == Self.receivedAt)
    }

    @Test func theLastSecondOfTheYear9999IsStillATime() throws {
        let change = try Self.change(#""leadgen_id":"2","created_time":253402300799"#)
        #expect(change.createdTime == 253_402_300_799)
        let lead = LeadNormalizer.fromGraph([:], leadID: "ld_1", change: change, receivedAt: Self.receivedAt)
        #expect(lead.createdAt == "9999-12-31T23:59:59.000Z")
    }

    @Test(arguments: ["20216-1-23T10:14:55+0000", "1013-11-23T09:02:00+0000"])
    func graphCreatedTimesOutsideTheYears1970To9999AreUnknown(createdTime: String) throws {
        #expect(Timestamp.parse(createdTime) == nil)
        let change = try Self.change(#""leadgen_id":"2","created_time":1763900190"#)
        let raw: JSONValue = ["created_time": .string(createdTime)]
        let lead = LeadNormalizer.fromGraph(raw, leadID: "ld_1", change: change, receivedAt: Self.receivedAt)
        #expect(lead.createdAt == "2025-11-23T12:16:30.000Z")
        #expect(
            LeadgenChange(listedLead: ["id": "3", "created_time": raw["created_time"]!], pageID: "1", formID: "4")?
                .createdTime == nil)
    }

    @Test func graphIdsThatAreNotPlainTokensGiveWayToTheWebhooks() throws {
        let change = try Self.change(#""leadgen_id":"2","form_id":"3","ad_id":"4","adgroup_id":"5""#)
        let raw: JSONValue = [
            "form_id": "55 5555", "ad_id": .string(String(repeating: "6", count: 201)), "adset_id": "7/8",
            "campaign_id": "9\t9", "is_organic": false,
        ]
        let source = LeadNormalizer.fromGraph(raw, leadID: "ld_1", change: change, receivedAt: Self.receivedAt).source
        #expect(source.formId == "3")
        #expect(source.adId == "4")
        #expect(source.adsetId == "5")
        #expect(source.campaignId == nil)
        let listed = try #require(
            LeadgenChange(listedLead: ["id": "10", "form_id": "55 5555", "ad_id": "a b"], pageID: "1", formID: "3"))
        #expect(listed.formID == "3")
        #expect(listed.adID == nil)
    }

    @Test func aPlusInsideAPhoneNumberLeavesOnlyItsDigits() {
        #expect(PhoneNumber.normalize("8 (912) 345-67+-89", country: nil) == "89123456789")
        #expect(PhoneNumber.normalize("8 (912) 345-67-89", country: nil) == "8 (912) 345-67-89")
    }

    @Test func anAnswerCutToItsMaximumLengthDoesNotEndWithTheSpaceItWasCutAt() {
        let long = String(repeating: "a", count: 999) + " " + String(repeating: "b", count: 10)
        let city = LeadNormalizer.normalizeFields(["city": long]).fields["city"]
        #expect(city == String(repeating: "a", count: 999))
    }

    @Test(arguments: ["a\u{600} b@c.de", "a@b@\u{301}c.de"])
    func anEmailHidingASpaceOrASecondAtInsideACharacterIsNoAddress(email: String) {
        #expect(LeadNormalizer.normalizeEmail(email) == nil)
        #expect(LeadNormalizer.normalizeEmail(" A.B@Example.ORG ") == "a.b@example.org")
    }
}
