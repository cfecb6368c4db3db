import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import LeadlineRPC

/// One timer for all of a connection's calls: each call still expires at its own deadline,
/// never before, and never once it has finished.
@Suite struct CallTimeoutsTests {
    final class Expiries: Sendable {
        private let times = NIOLockedValueBox([String: ContinuousClock.Instant]())
        func record(_ name: String) { times.withLockedValue { $0[name] = .now } }
        func at(_ name: String) -> ContinuousClock.Instant? { times.withLockedValue { $0[name] } }
    }

    @Test func eachCallExpiresAtItsOwnDeadlineAndFinishedOnesNever() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let timeouts = CallTimeouts(loop: loop)
        let expiries = Expiries()
        let start = ContinuousClock.now
        let now = NIODeadline.now()
        _ = timeouts.add(deadline: now + .milliseconds(1000)) { expiries.record("late") }
        // Added after, due before: the single timer must not wait for the later deadline.
        _ = timeouts.add(deadline: now + .milliseconds(100)) { expiries.record("early") }
        let done = timeouts.add(deadline: now + .milliseconds(150)) { expiries.record("finished") }
        timeouts.finished(done)
        try await Task.sleep(for: .milliseconds(1400))

        let early = try #require(expiries.at("early")) - start
        let late = try #require(expiries.at("late")) - start
        // Well before the later deadline, with room for a loaded machine.
        #expect(early >= .milliseconds(100) && early < .milliseconds(800), "\(early)")
        #expect(late >= .milliseconds(1000), "\(late)")
        #expect(expiries.at("finished") == nil)
        #expect(timeouts.pendingCount == 0)
    }

    @Test func callsAddedWhileArmedAreStillExpired() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let timeouts = CallTimeouts(loop: loop)
        let expiries = Expiries()
        for index in 0..<5 {
            _ = timeouts.add(deadline: .now() + .milliseconds(50 + 40 * Int64(index))) { expiries.record("\(index)") }
        }
        try await Task.sleep(for: .milliseconds(500))
        for index in 0..<5 { #expect(expiries.at("\(index)") != nil, "call \(index) never expired") }
    }
}
