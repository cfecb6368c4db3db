import Crypto
import Foundation
import Testing

@testable import RouterCore

/// A delivery's id is its CRM idempotency key: it must stay the same for a lead and destination
/// across versions, or a delivery retried after an upgrade would look new to the CRM.
@Suite struct DeliveryIDTests {
    @Test func theIdIsTheFirst26HexDigitsOfSHA256OfLeadAndDestination() {
        for (lead, destination) in [("ld_01JABCDEF", "hubspot-main"), ("", ""), ("ld_é", "dest\n2")] {
            let digest = SHA256.hash(data: Data("\(lead)\n\(destination)".utf8))
            let reference = "dl_" + digest.map { String(format: "%02x", $0) }.joined().prefix(26)
            #expect(Outbox.deliveryID(leadId: lead, destinationId: destination) == reference)
        }
        // Computed outside Swift (Python's hashlib), so a change to both sides cannot hide.
        #expect(
            Outbox.deliveryID(leadId: "ld_01JABCDEF", destinationId: "hubspot-main") == "dl_a2626e7b6afcadd0a07898e5f1")
    }
}
