import Synchronization

/// Webhook notifications being handled right now, so that retrieval can give way to them.
///
/// Meta times the acknowledgement, not the retrieval: a slow 200 is retried and, for long
/// enough, gets the subscription disabled, while a lead in the durable inbox is safe and can
/// be fetched a little later. Both compete for the same cores and the same database writer;
/// during a burst, fetching alongside halved the acknowledgements per second. So the retrieval
/// worker waits, between its batches, while intake is busy.
///
/// Busy is counted in requests in flight (arrival rate times time in ingest). One sender never
/// reaches the mark; a steady 1,000 a second (1-3 in flight) reaches it only while a slow fsync
/// holds the acknowledgements back, and retrieval goes on after the first 5 ms look in which
/// the mark was not reached. A burst keeps it
/// there. The wait is bounded, so a burst that never ends still leaves retrieval a batch of 16
/// every `longestYield` (about 16 leads a second), and it catches up when the burst ends.
///
/// What counts is the most in flight since retrieval last looked, not the count at the moment
/// it looks: acknowledgements leave in whole batches, one per commit, so even in a burst the
/// count drops near zero after every commit, and a look at one moment often hit such a dip.
final class IntakeLoad: Sendable {
    private let inFlight = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)
    let busyAt: Int
    let longestYield: Duration

    init(busyAt: Int = 8, longestYield: Duration = .seconds(1)) {
        self.busyAt = busyAt
        self.longestYield = longestYield
    }

    var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// Whether the requests in flight reached the mark at any moment since the previous look;
    /// the next look covers the time from now.
    func wasBusySinceLastLook() -> Bool {
        peak.exchange(inFlight.load(ordering: .relaxed), ordering: .relaxed) >= busyAt
    }

    /// A notification arrived; `end()` once it is answered, whatever the answer.
    func begin() {
        let now = inFlight.add(1, ordering: .relaxed).newValue
        peak.max(now, ordering: .relaxed)
    }

    func end() { inFlight.subtract(1, ordering: .relaxed) }

    /// Returns once intake is no longer busy, after `longestYield`, or when the task is cancelled
    /// (the daemon stopping); how long it waited, zero when intake was not busy.
    func yieldWhileBusy(clock: ContinuousClock = .continuous) async -> Duration {
        guard wasBusySinceLastLook() else { return .zero }
        let start = clock.now
        while clock.now - start < longestYield {
            do { try await Task.sleep(for: .milliseconds(5)) } catch { break }
            if !wasBusySinceLastLook() { break }
        }
        return clock.now - start
    }
}
