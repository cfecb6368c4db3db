import Foundation
import LeadlineHTTP
import LeadlineRPC
import Testing

@testable import RouterCore

/// The pure parts of delivery: field maps, the vendor's wait requests, backoff bounds and the
/// circuit breaker's states.
@Suite struct DeliveryPolicyTests {
    static let lead: JSONValue = [
        "id": "ld_1", "source": ["platform": "facebook", "formId": "555", "isOrganic": false],
        "fields": ["email": "jane@example.com", "firstName": "Jane", "lastName": "Doe"],
        "custom": ["budget.range": "10k"],
    ]

    @Test func fieldMapsRenderPathsTemplatesAndConstants() {
        let rendered = FieldMap.render(
            [
                "Email": "email", "Name": "{{firstName}} {{lastName}}", "Form": "source.formId",
                "Budget": "custom.budget.range",
                "Source": ["const": "Leadline"], "Score": ["const": 5], "City": "city", "Greeting": "Hello {{city}}",
            ], lead: Self.lead)
        #expect(rendered["Email"] == "jane@example.com")
        #expect(rendered["Name"] == "Jane Doe")
        #expect(rendered["Form"] == "555")
        #expect(rendered["Budget"] == "10k")
        #expect(rendered["Source"] == "Leadline")
        #expect(rendered["Score"] == 5)
        // A lead without the source leaves the CRM field out instead of sending an empty value.
        #expect(rendered["City"] == nil)
        #expect(rendered["Greeting"] == nil)
    }

    @Test func fieldMapValidationNamesTheField() {
        #expect(throws: RPCError.self) { try FieldMap.validate(["email": "emial"], for: .hubspot) }
        #expect(throws: RPCError.self) { try FieldMap.validate(["title": "email"], for: .pipedrive) }
        #expect(throws: Never.self) {
            try FieldMap.validate(["LastName": "lastName", "Company": ["const": "n/a"]], for: .salesforce)
        }
        #expect(throws: Never.self) { try FieldMap.validate([:], for: .webhook) }
        do {
            try FieldMap.validate(["LastName": "lastName"], for: .salesforce)
            Issue.record("a Salesforce map without Company was accepted")
        } catch let error as RPCError {
            #expect(error.name == "ValidationFailed")
            #expect(error.detail.contains("fieldMap.Company"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func vendorWaitRequestsAreHonoured() {
        func response(_ headers: [(String, String)]) -> HTTPResponse {
            HTTPResponse(status: 429, headers: headers.map { ($0.0.lowercased(), $0.1) }, body: Data(), elapsed: .zero)
        }
        #expect(VendorResponse.requestedDelay(response([("Retry-After", "7")])) == 7)
        let date = Date().addingTimeInterval(20)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let fromDate = VendorResponse.requestedDelay(response([("Retry-After", formatter.string(from: date))])) ?? 0
        #expect(fromDate > 15 && fromDate <= 20)
        #expect(
            VendorResponse.requestedDelay(
                response([
                    ("X-HubSpot-RateLimit-Remaining", "0"), ("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"),
                ])) == 10)
        #expect(
            VendorResponse.requestedDelay(response([("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "2")])) == 2)
        #expect(
            VendorResponse.requestedDelay(response([("x-ratelimit-remaining", "5"), ("x-ratelimit-reset", "2")])) == nil
        )
    }

    @Test func vendorMessagesNeverCarryAddresses() {
        let failure = DeliveryFailure(.permanent, status: 400, "Property email \"Jane.Doe@Example.com\" is invalid")
        #expect(!failure.message.contains("Example.com"))
        #expect(failure.message.contains("<email>"))
    }

    @Test func circuitOpensAfterConsecutiveFailuresAndProbesOnce() {
        var timing = DeliveryTiming()
        timing.circuitCooldown = 10
        timing.circuitThreshold = 3
        let health = DestinationHealth(timing: timing)
        let destination = Destination(
            id: "d", kind: .webhook, baseUrl: nil, credential: "c", options: DestinationOptions(ratePerSecond: 1000),
            createdAt: "", updatedAt: "")
        #expect(health.admit(destination, wanted: 5, now: 0) == 5)
        for _ in 0..<3 { health.recordFailure("d", now: 1) }
        #expect(health.snapshot("d", now: 1).circuit == .open)
        #expect(health.admit(destination, wanted: 5, now: 5) == 0)
        // After the cooldown exactly one probe goes out; a failed probe opens the circuit again.
        #expect(health.admit(destination, wanted: 5, now: 11.5) == 1)
        #expect(health.admit(destination, wanted: 5, now: 11.6) == 0)
        health.recordFailure("d", now: 12)
        #expect(health.snapshot("d", now: 12).circuit == .open)
        #expect(health.admit(destination, wanted: 5, now: 22.5) == 1)
        health.recordSuccess("d")
        #expect(health.snapshot("d", now: 23).circuit == .closed)
        #expect(health.admit(destination, wanted: 5, now: 23) == 5)
    }

    @Test func rateLimitAndVendorPausesHoldDeliveriesBack() {
        let health = DestinationHealth(timing: DeliveryTiming())
        let destination = Destination(
            id: "d", kind: .hubspot, baseUrl: "http://x", credential: "c",
            options: DestinationOptions(ratePerSecond: 4),
            createdAt: "", updatedAt: "")
        #expect(health.admit(destination, wanted: 10, now: 100) == 4)
        #expect(health.admit(destination, wanted: 10, now: 100.1) == 0)
        #expect(health.admit(destination, wanted: 10, now: 100.6) == 2)
        health.pause("d", until: 110)
        #expect(health.admit(destination, wanted: 10, now: 105) == 0)
        #expect(health.admit(destination, wanted: 10, now: 111) == 4)
    }

    @Test func backoffGrowsWithJitterUpToTheCap() {
        var timing = DeliveryTiming()
        timing.baseBackoff = 1
        timing.maximumBackoff = 8
        let worker = DeliveryWorker.backoff(attempts:timing:)
        for attempts in 1...10 {
            let step = min(8, pow(2, Double(attempts - 1)))
            let delay = worker(attempts, timing)
            #expect(delay >= step / 2 && delay <= step)
        }
    }
}
