import Foundation

/// Exponential backoff with ±20 % jitter, so retries after an outage do not arrive in step.
struct Backoff: Sendable {
    var base: Duration
    var cap: Duration

    func delay(afterAttempts attempts: Int) -> Duration {
        let exponent = min(max(attempts - 1, 0), 30)
        let seconds = min(Self.seconds(base) * pow(2, Double(exponent)), Self.seconds(cap))
        return .milliseconds(Int64(seconds * Double.random(in: 0.8...1.2) * 1000))
    }

    func until(afterAttempts attempts: Int, atLeast: Duration? = nil) -> Date {
        var wait = delay(afterAttempts: attempts)
        if let atLeast, atLeast > wait { wait = atLeast }
        return Date().addingTimeInterval(Self.seconds(wait))
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
