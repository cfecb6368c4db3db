import Foundation
import GRDB
import LeadlineRPC

/// audit.verify's answer.
public struct ChainVerification: Codable, Sendable, Hashable {
    public var ok: Bool
    public var events: Int
    public var checkpoints: Int
    public var firstBadSeq: Int64?
    public var detail: String?
}

/// Recomputes the chain from the anchor (or seq 1), checks every checkpoint signature and that
/// each checkpoint matches the event it names, and checks the signed head against the last
/// event. The daemon's audit.verify and offline checks of a copied database run this same code.
///
/// Every event stores its prevHash as well as its hash, so the events can be checked in ranges
/// of seq at once, one read connection each, all in one snapshot; then the joins between ranges
/// (each range's first seq and prevHash against where the range before it ended) are checked in
/// seq order, so the answer, first bad seq included, is the one a single pass would give.
public enum ChainVerifier {
    /// How far verification is split.
    struct Options: Sendable {
        /// At most this many ranges, each on its own read connection and core.
        var maxParts: Int
        /// Fewer ranges when there are fewer events than this per range: below it, a reader's
        /// start-up costs more than it saves.
        var eventsPerPart: Int64

        static var automatic: Options {
            Options(maxParts: ProcessInfo.processInfo.activeProcessorCount, eventsPerPart: 16_384)
        }
    }

    /// Opens a database file read-only (its folder must be writable for SQLite's WAL index).
    public static func verify(databasePath: String, verifier: AuditSignatureVerifier) throws -> ChainVerification {
        try verify(databasePath: databasePath, verifier: verifier, options: .automatic)
    }

    static func verify(databasePath: String, verifier: AuditSignatureVerifier, options: Options) throws
        -> ChainVerification
    {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.maximumReaderCount = max(1, options.maxParts)
        let pool = try DatabasePool(path: databasePath, configuration: configuration)
        defer { try? pool.close() }
        for _ in 0..<attempts {
            let done = DispatchSemaphore(value: 0)
            let outcome = Locked<Result<[Part], Error>?>(nil)
            runParts(pool: pool, verifier: verifier, options: options) { result in
                outcome.set(result)
                done.signal()
            }
            done.wait()
            if let verdict = combine(try outcome.get()!.get(), verifier: verifier) { return verdict }
        }
        return try pool.read { db in try verify(db, verifier: verifier) }
    }

    /// The daemon's audit.verify, on its own pool's readers.
    static func verify(pool: DatabasePool, verifier: AuditSignatureVerifier, options: Options = .automatic)
        async throws -> ChainVerification
    {
        for _ in 0..<attempts {
            let parts = try await withCheckedThrowingContinuation { continuation in
                runParts(pool: pool, verifier: verifier, options: options) { continuation.resume(with: $0) }
            }
            if let verdict = combine(parts, verifier: verifier) { return verdict }
        }
        return try await pool.read { db in try verify(db, verifier: verifier) }
    }

    /// In one connection's transaction, in one pass.
    public static func verify(_ db: Database, verifier: AuditSignatureVerifier) throws -> ChainVerification {
        let part = try Part(db, range: 0, of: [], verifier: verifier)
        return combine([part], verifier: verifier)!
    }

    /// Ranges read in different snapshots can only come from another process writing between
    /// their starts (the daemon's own writer is held still for that moment): read them again,
    /// and after that many tries, in one pass.
    static let attempts = 3

    // MARK: the parts

    /// What every range reads of the chain's ends; all ranges must have read the same.
    struct Marks: Equatable, Sendable {
        struct Signed: Equatable, Sendable {
            var seq: Int64
            var hash: String
            var signature: String
        }
        var anchor: Signed?
        var head: Signed?
        var firstSeq: Int64?
        var lastSeq: Int64?
        var lastCheckpoint: Int64?

        init(_ db: Database) throws {
            func signed(_ sql: String) throws -> Signed? {
                try Row.fetchOne(db, sql: sql).map {
                    Signed(seq: $0["seq"], hash: $0["hash"], signature: $0["signature"])
                }
            }
            anchor = try signed("SELECT seq, hash, signature FROM anchor WHERE id = 1")
            head = try signed("SELECT seq, hash, signature FROM chain_head WHERE id = 1")
            let ends = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT min(seq) FROM events), (SELECT max(seq) FROM events),
                           (SELECT max(seq) FROM checkpoints)
                    """)
            firstSeq = ends?[0]
            lastSeq = ends?[1]
            lastCheckpoint = ends?[2]
        }
    }

    /// Where the ranges end: range i holds the seqs in (bounds[i-1], bounds[i]]; the first
    /// range has no lower end and the last no upper one, so that every row is in one range,
    /// whatever its seq.
    static func bounds(firstSeq: Int64?, lastSeq: Int64?, options: Options) -> [Int64] {
        guard let first = firstSeq, let last = lastSeq, options.maxParts > 1 else { return [] }
        let (span, overflow) = last.subtractingReportingOverflow(first)
        guard !overflow else { return [] }
        let parts = min(Int64(options.maxParts), span / max(1, options.eventsPerPart))
        guard parts > 1 else { return [] }
        let step = span / parts
        return (1..<parts).map { first + step * $0 - 1 }
    }

    /// One range's findings.
    struct Part: Sendable {
        var marks: Marks
        var scan: EventScan.Outcome
        /// The checkpoints after the anchor in this range, in seq order, and those of them
        /// whose signature is invalid.
        var checkpoints: [Int64] = []
        var badSignatures: [Int64] = []

        init(_ db: Database, range index: Int, of bounds: [Int64], verifier: AuditSignatureVerifier) throws {
            marks = try Marks(db)
            let anchorSeq = marks.anchor?.seq ?? 0
            let lower: Int64? = index == 0 ? nil : bounds[index - 1]
            let upper: Int64? = index == bounds.count ? nil : bounds[index]
            var hashes: [(seq: Int64, hash: [UInt8])] = []
            let range = EventScan.rangeFilter(above: lower, through: upper)
            let rows = try Row.fetchCursor(
                db, sql: "SELECT seq, time, hash, signature FROM checkpoints" + range.sql + " ORDER BY seq",
                arguments: range.arguments)
            while let row = try rows.next() {
                let seq: Int64 = row["seq"]
                // Checkpoints at or before the anchor cover pruned events: nothing left to compare.
                guard seq > anchorSeq else { continue }
                let hash: String = row["hash"]
                let bytes = CanonicalEncoding.checkpointBytes(seq: seq, time: row["time"], hash: hash)
                if !verifier.isValid(row["signature"], for: bytes) { badSignatures.append(seq) }
                checkpoints.append(seq)
                hashes.append((seq, Hex.decode(hash) ?? []))
            }
            scan = try EventScan.run(db, above: lower, through: upper, checkpoints: hashes)
        }
    }

    // MARK: the verdict

    /// Joins the ranges in seq order into the verdict; nil when they were not all read in the
    /// same snapshot.
    static func combine(_ parts: [Part], verifier: AuditSignatureVerifier) -> ChainVerification? {
        let marks = parts[0].marks
        guard parts.allSatisfy({ $0.marks == marks }) else { return nil }
        var problems: [(seq: Int64, detail: String)] = []
        func problem(_ seq: Int64, _ detail: String) { problems.append((max(seq, 1), detail)) }

        var expectedSeq: Int64 = 1
        var previousHash = CanonicalEncoding.zeroHash
        if let anchor = marks.anchor {
            if !verifier.isValid(
                anchor.signature, for: CanonicalEncoding.markerBytes("anchor", seq: anchor.seq, hash: anchor.hash))
            {
                problem(anchor.seq + 1, "the retention anchor's signature is invalid")
            }
            expectedSeq = anchor.seq + 1
            previousHash = anchor.hash
        }
        let anchorSeq = expectedSeq - 1

        let checkpoints = parts.reduce(0) { $0 + $1.checkpoints.count }
        for seq in parts.lazy.flatMap(\.badSignatures) {
            problem(seq, "checkpoint \(seq) has an invalid signature")
        }

        // The ranges in order, as one pass would meet them, up to the first failure.
        var events = 0
        var lastSeq = anchorSeq
        var broken: (seq: Int64, detail: String)?
        var mismatches: [Int64] = []
        if var previous = Hex.decode(previousHash), previous.count == 32 {
            for part in parts {
                let scan = part.scan
                guard let first = scan.first else { continue }
                if first.seq != expectedSeq {
                    events += 1
                    broken = (
                        min(first.seq, expectedSeq),
                        "expected seq \(expectedSeq), found \(first.seq) (an event was removed or inserted)"
                    )
                    break
                }
                guard first.prevHash == previous else {
                    events += 1
                    broken = (first.seq, "event \(first.seq) does not follow its predecessor (prevHash differs)")
                    break
                }
                events += scan.events
                mismatches += scan.checkpointMismatches
                if let failed = scan.problem {
                    broken = failed
                    break
                }
                lastSeq = scan.lastSeq
                previous = scan.lastHash
                expectedSeq = lastSeq + 1
            }
            if broken == nil && events > 0 { previousHash = Hex.encode(previous) }
        } else {
            broken = (anchorSeq + 1, "the chain's starting hash is malformed")
        }
        if let broken { problem(broken.seq, broken.detail) }
        for seq in mismatches { problem(seq, "checkpoint \(seq) does not match event \(seq)") }

        if broken == nil {
            if let beyond = parts.lazy.flatMap(\.checkpoints).filter({ $0 > lastSeq }).min() {
                problem(lastSeq + 1, "checkpoint \(beyond) names events that are missing")
            }
            if let head = marks.head {
                if !verifier.isValid(
                    head.signature, for: CanonicalEncoding.markerBytes("head", seq: head.seq, hash: head.hash))
                {
                    problem(min(head.seq, lastSeq + 1), "the chain head's signature is invalid")
                } else if head.seq != lastSeq {
                    problem(
                        min(head.seq, lastSeq) + 1,
                        "the signed head is at seq \(head.seq) but the chain ends at \(lastSeq)")
                } else if head.hash != previousHash {
                    problem(head.seq, "the signed head does not match event \(head.seq)")
                }
            } else if lastSeq > 0 {
                problem(1, "the signed chain head is missing")
            }
        }

        guard let first = problems.min(by: { $0.seq < $1.seq }) else {
            return ChainVerification(ok: true, events: events, checkpoints: checkpoints, firstBadSeq: nil, detail: nil)
        }
        return ChainVerification(
            ok: false, events: events, checkpoints: checkpoints, firstBadSeq: first.seq,
            detail: String(first.detail.prefix(2000)))
    }

    // MARK: reading the ranges at once

    /// Reads the ranges at once, each on one of the pool's readers, all in one snapshot: the
    /// ranges are planned on the writer connection, and GRDB's asyncConcurrentRead holds the
    /// writer until each reader's transaction has begun, so no commit of this process can fall
    /// between them. (Another process could commit between them; ``combine(_:verifier:)``
    /// notices that from the marks.)
    static func runParts(
        pool: DatabasePool, verifier: AuditSignatureVerifier, options: Options,
        completion: @escaping @Sendable (Result<[Part], Error>) -> Void
    ) {
        pool.asyncWriteWithoutTransaction { db in
            let bounds: [Int64]
            do {
                let marks = try Marks(db)
                var options = options
                options.maxParts = min(options.maxParts, pool.configuration.maximumReaderCount)
                bounds = Self.bounds(firstSeq: marks.firstSeq, lastSeq: marks.lastSeq, options: options)
            } catch {
                return completion(.failure(error))
            }
            let collected = PartCollector(count: bounds.count + 1, completion: completion)
            for index in 0...bounds.count {
                pool.asyncConcurrentRead { connection in
                    collected.deliver(
                        index, Result { try Part(connection.get(), range: index, of: bounds, verifier: verifier) })
                }
            }
        }
    }
}

/// Gathers the parts as they finish, and answers once: with all of them, or the first error.
private final class PartCollector: Sendable {
    private let state: Locked<(parts: [ChainVerifier.Part?], remaining: Int, failed: Bool)>
    private let completion: @Sendable (Result<[ChainVerifier.Part], Error>) -> Void

    init(count: Int, completion: @escaping @Sendable (Result<[ChainVerifier.Part], Error>) -> Void) {
        state = Locked((Array(repeating: nil, count: count), count, false))
        self.completion = completion
    }

    func deliver(_ index: Int, _ result: Result<ChainVerifier.Part, Error>) {
        let answer = state.withLock { state -> Result<[ChainVerifier.Part], Error>? in
            guard !state.failed else { return nil }
            switch result {
            case .failure(let error):
                state.failed = true
                return .failure(error)
            case .success(let part):
                state.parts[index] = part
                state.remaining -= 1
                return state.remaining == 0 ? .success(state.parts.map { $0! }) : nil
            }
        }
        if let answer { completion(answer) }
    }
}

/// A value behind a lock.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    func set(_ newValue: Value) { withLock { $0 = newValue } }
    func get() -> Value { withLock { $0 } }
}
