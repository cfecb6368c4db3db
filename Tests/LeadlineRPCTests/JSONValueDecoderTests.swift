import Foundation
import LeadlineRPC
import Testing

/// Typed params straight from parsed values: the same results and the same error paths as
/// going through bytes and JSONDecoder.
@Suite struct JSONValueDecoderTests {
    enum Kind: String, Codable { case hubspot, webhook }
    struct Event: Codable, Equatable {
        var action: String
        var count: Int
        var ratio: Double?
        var details: [String: JSONValue]?
    }
    struct Params: Codable, Equatable {
        var kind: Kind
        var events: [Event]
        var tags: [String?]
        var limit: UInt8?
        var extra: JSONValue?
    }

    let sample: JSONValue = [
        "kind": "webhook",
        "events": [
            ["action": "a.b", "count": 2, "ratio": 1, "details": ["x": [1, "y", nil]]], ["action": "c", "count": 3.0],
        ],
        "tags": ["t", nil], "limit": 200, "extra": ["any": true],
    ]

    @Test func decodesLikeJSONDecoder() throws {
        let direct = try JSONCoding.convert(sample, to: Params.self)
        let viaBytes = try JSONDecoder().decode(Params.self, from: JSONCoding.encode(sample))
        #expect(direct == viaBytes)
        #expect(direct.events[0].details?["x"] == [1, "y", nil])
        #expect(direct.events[1].count == 3)
        #expect(direct.tags == ["t", nil])
    }

    static let failures: [(params: String, expected: String)] = [
        (#"{"events":[],"tags":[]}"#, "missing required param 'kind'"),
        (#"{"kind":"fax","events":[],"tags":[]}"#, "param 'kind' is not valid"),
        (
            #"{"kind":"webhook","events":[{"action":1,"count":1}],"tags":[]}"#,
            "param 'events[0].action' has the wrong type (expected string)"
        ),
        (
            #"{"kind":"webhook","events":[{"action":"a","count":1.5}],"tags":[]}"#,
            "param 'events[0].count' is not valid"
        ),
        (#"{"kind":"webhook","events":[],"tags":[],"limit":256}"#, "param 'limit' is not valid"),
        (
            #"{"kind":"webhook","events":[{"action":null,"count":1}],"tags":[]}"#,
            "param 'events[0].action' must not be null"
        ),
        (#"{"kind":"webhook","events":"x","tags":[]}"#, "param 'events' has the wrong type (expected array)"),
    ]

    @Test(arguments: failures)
    func errorsNameTheParam(_ text: String, _ expected: String) throws {
        let params = try JSONCoding.parse(Array(text.utf8))
        do {
            _ = try JSONCoding.convert(params, to: Params.self)
            Issue.record("decoded \(params)")
        } catch let error as DecodingError {
            #expect(
                DecodingErrorDescription.describe(error).hasPrefix(expected),
                "\(DecodingErrorDescription.describe(error))")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
