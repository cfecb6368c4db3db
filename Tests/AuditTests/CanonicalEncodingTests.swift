import AuditCore
import Foundation
import LeadlineRPC
import Testing

/// Known answers, computed independently (Python's json-free string building and hashlib), so
/// an operator's own verifier can be checked against the daemon's encoding.
@Suite struct CanonicalEncodingTests {
    static let details = CanonicalEncoding.json(["version": 2, "note": "a\"b\\c\nü", "caller": "uid:0(root)"])

    @Test func detailsAreSortedUnspacedAndMinimallyEscaped() {
        #expect(Self.details == #"{"caller":"uid:0(root)","note":"a\"b\\c\u000aü","version":2}"#)
    }

    @Test func eventBytesAndChainHashMatchTheDocumentedEncoding() throws {
        let canonical = CanonicalEncoding.eventBytes(
            seq: 1, time: "2026-12-01T10:00:00.000Z", actor: "vault", action: "vault.getSecret",
            subject: "meta/app-secret", outcome: "ok", details: Self.details, prevHash: CanonicalEncoding.zeroHash)
        #expect(
            String(decoding: canonical, as: UTF8.self)
                == #"{"action":"vault.getSecret","actor":"vault","details":{"caller":"uid:0(root)","note":"a\"b\\c\u000aü","version":2},"outcome":"ok","prevHash":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,"subject":"meta/app-secret","time":"2026-12-01T10:00:00.000Z"}"#
        )
        let first = try #require(
            CanonicalEncoding.chainHash(prevHash: CanonicalEncoding.zeroHash, canonical: canonical))
        #expect(first == "546855986ea9f4075c5bc5d62464e8d75d17a1574ff3ba2d9ac5cd788ad43f22")

        let second = CanonicalEncoding.eventBytes(
            seq: 2, time: "2026-12-01T10:00:00.000Z", actor: "vault", action: "vault.getSecret",
            subject: "meta/app-secret", outcome: "ok", details: Self.details, prevHash: first)
        #expect(
            CanonicalEncoding.chainHash(prevHash: first, canonical: second)
                == "e416d240c7d120d338a811dc71ba10ffcc96b11bdb512458970b9b9cfc195c23")
        #expect(CanonicalEncoding.chainHash(prevHash: "not hex", canonical: second) == nil)
    }
}
