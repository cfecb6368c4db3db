import Foundation
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport
import Testing

/// One CRM double behind its own destination and route (matched on its own form id), so one
/// router run plays a fault against every vendor at once and each keeps its own request log.
protocol FaultMatrixSubject: Sendable {
    var name: String { get }
    var formId: String { get }
    /// Requests to the vendor's API in arrival order; the OAuth token endpoint is left out.
    var apiRequests: [RecordedRequest] { get }
    /// Faults that stand before the one under test so that it hits the request that writes:
    /// Pipedrive searches before it creates, and a lost answer only matters after a create.
    var lostAnswerLead: [CRMFault] { get }
    var faults: FaultSchedule { get }
    var oauth: OAuthSubject? { get }
    /// Records that the lead made in the double: exactly one, the one the delivery reports.
    func expectDeliveredOnce(_ delivery: JSONValue, lead: JSONValue)
    func shutdown() async
}

/// What a subject that refreshes OAuth tokens exposes to the expired-token case.
struct OAuthSubject: Sendable {
    var credential: String
    var initialToken: String
    /// The token the double's token endpoint hands out first.
    var firstRefreshedToken: String
    var tokens: TokenBook
}

extension FaultMatrixSubject {
    var lostAnswerLead: [CRMFault] { [] }
    var oauth: OAuthSubject? { nil }
}

struct HubSpotSubject: FaultMatrixSubject {
    let double: HubSpotDouble
    let name = "HubSpot"
    let formId = "form-hubspot"
    var faults: FaultSchedule { double.faults }
    var apiRequests: [RecordedRequest] { double.server.requests.filter { $0.path != "/oauth/v1/token" } }
    var oauth: OAuthSubject? {
        OAuthSubject(
            credential: "crm/hubspot", initialToken: "CJSP-initial", firstRefreshedToken: "CJSP-access-1",
            tokens: double.tokens)
    }

    init(_ harness: RouterHarness) async throws {
        double = try await HubSpotDouble(accessToken: "CJSP-initial")
        try await harness.putSecret("crm/hubspot", HubSpotDeliveryTests.oauthCredential(accessToken: "CJSP-initial"))
        try await harness.putDestination(
            "hs", kind: "hubspot", baseUrl: double.baseURL, credential: "crm/hubspot", options: ["ratePerSecond": 200])
        try await harness.putRoute(
            "hs", destination: "hs", fieldMap: HubSpotDeliveryTests.fieldMap, match: ["formId": .string(formId)])
    }

    func expectDeliveredOnce(_ delivery: JSONValue, lead: JSONValue) {
        let contacts = double.records
        #expect(contacts.count == 1, "HubSpot holds \(contacts.count) contacts")
        let email = lead["fields"]?["email"]?.stringValue ?? ""
        #expect(contacts[email] != nil && delivery["crmRecordId"]?.stringValue == contacts[email]?.id)
    }

    func shutdown() async { await double.shutdown() }
}

struct SalesforceSubject: FaultMatrixSubject {
    let double: SalesforceDouble
    let name = "Salesforce"
    let formId = "form-salesforce"
    var faults: FaultSchedule { double.faults }
    var apiRequests: [RecordedRequest] { double.server.requests.filter { $0.path != "/services/oauth2/token" } }
    var oauth: OAuthSubject? {
        OAuthSubject(
            credential: "crm/salesforce", initialToken: "00D-current",
            firstRefreshedToken: "00D5g000000AbCd!AQ4AQ-new-1", tokens: double.tokens)
    }

    init(_ harness: RouterHarness) async throws {
        double = try await SalesforceDouble(accessToken: "00D-current")
        try await harness.putSecret(
            "crm/salesforce",
            #"{"access_token":"00D-current","refresh_token":"5Aep-refresh-0000","client_id":"cid","client_secret":"cs","instance_url":"\#(double.baseURL)"}"#
        )
        // Upsert on an external id: the configuration that makes a repeated write land on one Lead.
        try await harness.putDestination(
            "sf", kind: "salesforce", baseUrl: double.baseURL, credential: "crm/salesforce",
            options: ["externalIdField": "Leadline_Id__c", "apiVersion": "v62.0", "ratePerSecond": 200])
        try await harness.putRoute(
            "sf", destination: "sf", fieldMap: SalesforceDeliveryTests.fieldMap, match: ["formId": .string(formId)])
    }

    func expectDeliveredOnce(_ delivery: JSONValue, lead: JSONValue) {
        let leads = double.records
        #expect(leads.count == 1, "Salesforce holds \(leads.count) Leads")
        let key = "Leadline_Id__c=\(lead["id"]?.stringValue ?? "")"
        #expect(leads[key] != nil && delivery["crmRecordId"]?.stringValue == leads[key]?.id)
    }

    func shutdown() async { await double.shutdown() }
}

struct PipedriveSubject: FaultMatrixSubject {
    let double: PipedriveDouble
    let name = "Pipedrive"
    let formId = "form-pipedrive"
    var faults: FaultSchedule { double.faults }
    var apiRequests: [RecordedRequest] { double.server.requests }
    var lostAnswerLead: [CRMFault] { [.answerNormally] }

    init(_ harness: RouterHarness) async throws {
        double = try await PipedriveDouble()
        try await harness.putSecret("crm/pipedrive", "pipedrive-test-token")
        try await harness.putDestination(
            "pd", kind: "pipedrive", baseUrl: double.baseURL, credential: "crm/pipedrive",
            options: ["ownerId": 7, "ratePerSecond": 200])
        try await harness.putRoute(
            "pd", destination: "pd", fieldMap: PipedriveDeliveryTests.fieldMap, match: ["formId": .string(formId)])
    }

    func expectDeliveredOnce(_ delivery: JSONValue, lead: JSONValue) {
        // Pipedrive has no idempotency key: count the creates, not just what is stored.
        let requests = double.server.requests
        #expect(requests.filter { $0.method == "POST" && $0.path == "/v1/persons" }.count == 1)
        #expect(requests.filter { $0.method == "POST" && $0.path == "/v1/leads" }.count == 1)
        #expect(double.persons.count == 1, "Pipedrive holds \(double.persons.count) persons")
        #expect(double.leads.count == 1, "Pipedrive holds \(double.leads.count) leads")
        #expect(delivery["crmRecordId"]?.stringValue == double.leads.first?.id)
    }

    func shutdown() async { await double.shutdown() }
}

struct WebhookSubject: FaultMatrixSubject {
    let double: WebhookReceiverDouble
    let name = "webhook"
    let formId = "form-webhook"
    var faults: FaultSchedule { double.faults }
    var apiRequests: [RecordedRequest] { double.server.requests }

    init(_ harness: RouterHarness) async throws {
        double = try await WebhookReceiverDouble(secret: "whsec-test")
        try await harness.putSecret("hooks/signing", "whsec-test")
        try await harness.putDestination(
            "wh", kind: "webhook", credential: "hooks/signing",
            options: ["url": .string(double.url), "ratePerSecond": 200])
        try await harness.putRoute("wh", destination: "wh", fieldMap: [:], match: ["formId": .string(formId)])
    }

    func expectDeliveredOnce(_ delivery: JSONValue, lead: JSONValue) {
        // The receiver keeps one record per Idempotency-Key: a repeat with the same key is the same lead.
        let received = double.records
        #expect(received.count == 1, "the receiver holds \(received.count) leads")
        let record = received[delivery["id"]?.stringValue ?? ""]
        #expect(record.flatMap { try? JSONCoding.parse(Array($0.body)) } == lead)
        #expect(double.badSignatures == 0)
    }

    func shutdown() async { await double.shutdown() }
}
