import Foundation
import LeadlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A damaged database at start, through the real leadline-ingest: it stops with exit 78 and one
/// line naming the file, and the file is left byte for byte as it was, never recreated.
@Suite(.serialized) struct CorruptDatabaseTests {
    enum Damage: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// The 100-byte header: SQLite no longer recognises the file.
        case header
        /// Every page after the first: the schema reads, the b-trees do not.
        case pages
        /// Cut to half its length, as a copy interrupted midway leaves it.
        case truncated

        var testDescription: String { rawValue }

        func apply(to bytes: Data) -> Data {
            var damaged = bytes
            switch self {
            case .header: damaged.replaceSubrange(0..<100, with: Data(repeating: 0x5A, count: 100))
            case .pages:
                damaged.replaceSubrange(4096..<bytes.count, with: Data(repeating: 0xA5, count: bytes.count - 4096))
            case .truncated: damaged = bytes.prefix(bytes.count / 2)
            }
            return damaged
        }
    }

    @Test(arguments: Damage.allCases)
    func aDamagedDatabaseStopsTheDaemonAndIsLeftAsItWas(_ damage: Damage) async throws {
        let ingest = try await IngestUnderTest(vault: false)
        try await ingest.start()
        // Enough rows that the file has several pages to damage.
        for index in 1...40 { _ = try await ingest.submitLead(index) }
        try ingest.stack.stop("ingest")

        let database = ingest.stack.databasePath("ingest")
        let healthy = try Data(contentsOf: URL(fileURLWithPath: database))
        #expect(healthy.count > 3 * 4096)
        let damaged = damage.apply(to: healthy)
        try damaged.write(to: URL(fileURLWithPath: database))
        let inode = try FileManager.default.attributesOfItem(atPath: database)[.systemFileNumber] as? UInt64

        let run = try DaemonRun.byHand("ingest", stack: ingest.stack)
        #expect(run.exitCode == 78)
        let line = run.errorLine ?? ""
        #expect(line.hasPrefix("leadline-ingest: ") && line.contains(database), "\(run.output)")
        #expect(line.contains("restore it from a backup"), "\(line)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: database)) == damaged)
        #expect(try FileManager.default.attributesOfItem(atPath: database)[.systemFileNumber] as? UInt64 == inode)
        ingest.stack.removeFiles()
    }
}
