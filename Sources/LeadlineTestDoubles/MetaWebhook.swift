import Crypto
import Foundation

/// Meta's side of the leadgen webhook: bodies shaped like Meta's and the X-Hub-Signature-256
/// header Meta computes over the raw body with the app secret.
public enum MetaWebhook {
    public static let defaultPageID = "153125381133"
    public static let defaultFormID = "555555555555"

    /// One entry on `pageID` with one leadgen change per id.
    public static func body(
        leadgenIDs: [String], pageID: String = defaultPageID, formID: String = defaultFormID,
        createdTime: Int = 1_764_583_200
    ) -> Data {
        let changes = leadgenIDs.map { id in
            #"{"field":"leadgen","value":{"leadgen_id":"\#(id)","page_id":"\#(pageID)","form_id":"\#(formID)","created_time":\#(createdTime)}}"#
        }
        return Data(
            #"{"object":"page","entry":[{"id":"\#(pageID)","time":\#(createdTime),"changes":[\#(changes.joined(separator: ","))]}]}"#
                .utf8)
    }

    /// The header value: "sha256=" and the hex HMAC-SHA256 of the raw body.
    public static func signature(of body: Data, appSecret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(appSecret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}
