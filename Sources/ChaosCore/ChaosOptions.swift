import Foundation

/// What a crash-test run does: how many leads, how hard the chaos hits, how long it waits.
public struct ChaosOptions: Sendable {
    /// Distinct leads sent (Meta's retries and resends come on top).
    public var leads = 10_000
    /// Concurrent webhook senders.
    public var senders = 16
    /// Seconds between two kills, drawn uniformly from this range.
    public var killInterval: ClosedRange<Double> = 0.3...2.0
    /// Seconds a killed daemon stays down before it is started again (a randomized RestartSec=).
    public var restartDelay: ClosedRange<Double> = 0.1...1.0
    /// Leads per second offered (0: as fast as the senders go). Paced, the webhook side, the
    /// fetches, the handoff and the deliveries all run while the kills land.
    public var rate: Double = 100
    /// After the load, the chaos goes on for at least these seconds and until this share of
    /// the acknowledged leads is in the CRM, so the delivery side is hit as hard as the webhooks.
    public var chaosAfterLoad: Double = 10
    public var chaosUntilDelivered = 0.9
    /// Seconds the pipeline gets to settle after the chaos stops.
    public var drainTimeout: Double = 300
    /// A sender gives a lead up (counted unacknowledged, not lost) after this many seconds.
    public var giveUpAfter: Double = 120
    /// Share of requests that resend leads already acknowledged, as Meta does for 36 hours.
    public var resendShare = 0.02
    public var seed: UInt64 = UInt64(Date().timeIntervalSince1970)

    public init() {}
}
