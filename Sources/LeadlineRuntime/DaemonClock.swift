import Foundation

/// The clock retention and the audit log read. Tests move it with LEADLINE_TEST_NOW (RFC 3339):
/// time then runs on from that instant, so "30 days later" is a restart away instead of a wait.
/// Unset in production, where it is the system clock.
public struct DaemonClock: Sendable {
    private let offset: TimeInterval

    public init(offset: TimeInterval = 0) {
        self.offset = offset
    }

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> DaemonClock
    {
        guard let text = environment["LEADLINE_TEST_NOW"], let start = RFC3339.parse(text) else {
            return DaemonClock()
        }
        return DaemonClock(offset: start.timeIntervalSinceNow)
    }

    public func now() -> Date { Date().addingTimeInterval(offset) }
}
