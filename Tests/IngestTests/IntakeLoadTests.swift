import Testing

@testable import IngestCore

/// Retrieval gives way to a webhook burst, but never for longer than its bound.
@Suite struct IntakeLoadTests {
    @Test func busyOnlyFromTheMarkAndUntilTheRequestsAreAnswered() {
        let intake = IntakeLoad(busyAt: 3, longestYield: .seconds(1))
        intake.begin()
        intake.begin()
        #expect(!intake.wasBusySinceLastLook())
        intake.begin()
        #expect(intake.wasBusySinceLastLook())
        #expect(intake.requestsInFlight == 3)
        intake.end()
        // The look before saw 3 still in flight, which this look's time starts from.
        #expect(intake.wasBusySinceLastLook())
        #expect(!intake.wasBusySinceLastLook())
        intake.end()
        intake.end()
        #expect(intake.requestsInFlight == 0)
    }

    /// Answers leave in whole batches, one per commit: a burst that was at the mark between two
    /// looks counts even if the count has dropped by the time retrieval looks.
    @Test func aPeakBetweenTwoLooksCountsThoughTheCountDroppedSince() {
        let intake = IntakeLoad(busyAt: 3, longestYield: .seconds(1))
        #expect(!intake.wasBusySinceLastLook())
        for _ in 0..<3 { intake.begin() }
        for _ in 0..<3 { intake.end() }
        #expect(intake.requestsInFlight == 0)
        #expect(intake.wasBusySinceLastLook())
        #expect(!intake.wasBusySinceLastLook())
    }

    @Test func aQuietIntakeDoesNotDelayRetrieval() async {
        let intake = IntakeLoad(busyAt: 2, longestYield: .seconds(60))
        #expect(await intake.yieldWhileBusy() == .zero)
        intake.begin()
        #expect(await intake.yieldWhileBusy() == .zero)
        intake.end()
    }

    @Test func aStoppingDaemonDoesNotWaitOutTheBound() async {
        let intake = IntakeLoad(busyAt: 1, longestYield: .seconds(60))
        intake.begin()
        let waiting = Task { await intake.yieldWhileBusy() }
        waiting.cancel()
        #expect(await waiting.value < .seconds(60))
        intake.end()
    }

    @Test func aBurstThatNeverEndsStillLetsRetrievalRunAfterTheBound() async {
        let intake = IntakeLoad(busyAt: 1, longestYield: .milliseconds(50))
        intake.begin()
        let waited = await intake.yieldWhileBusy()
        #expect(waited >= .milliseconds(50))
        #expect(intake.wasBusySinceLastLook())
        intake.end()
    }

    @Test func retrievalResumesOnceTheBurstIsAnswered() async {
        let intake = IntakeLoad(busyAt: 1, longestYield: .seconds(60))
        intake.begin()
        let answered = Task {
            try? await Task.sleep(for: .milliseconds(50))
            intake.end()
        }
        let waited = await intake.yieldWhileBusy()
        #expect(waited < .seconds(60))
        #expect(intake.requestsInFlight == 0)
        await answered.value
    }
}
