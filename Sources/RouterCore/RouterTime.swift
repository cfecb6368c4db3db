import Foundation
import LeadlineRuntime

/// Times are stored as Unix seconds (REAL) and shown as RFC 3339 with milliseconds.
enum RouterTime {
    static func now() -> Double { Date().timeIntervalSince1970 }

    static func iso(_ seconds: Double) -> String {
        AuditEvent.timestamp(Date(timeIntervalSince1970: seconds))
    }

}

/// Retry, circuit and HTTP timings. Production uses the defaults; tests shrink them through the
/// environment so a backoff or an open circuit takes milliseconds, not minutes.
struct DeliveryTiming: Sendable {
    /// First retry delay; doubles per attempt (with jitter) up to `maximumBackoff`.
    var baseBackoff: Double = 5
    var maximumBackoff: Double = 3600
    /// How long an open circuit waits before its half-open probe.
    var circuitCooldown: Double = 30
    /// Consecutive transient failures that open a destination's circuit.
    var circuitThreshold = 5
    /// Total time one HTTP request to a CRM may take.
    var requestTimeout: Duration = .seconds(30)
    /// Deliveries sent at the same time (across destinations).
    var concurrency = 32
    /// How long a credential read from the vault is reused.
    var credentialCacheSeconds: Double = 60
    /// Replaces [router] max_attempts_hours (whole hours) so tests can watch a delivery give up.
    var maxAttemptsSecondsOverride: Double?

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> DeliveryTiming
    {
        var timing = DeliveryTiming()
        func milliseconds(_ key: String) -> Double? {
            guard let text = environment[key], let value = Double(text), value >= 0 else { return nil }
            return value / 1000
        }
        if let value = milliseconds("LEADLINE_ROUTER_BACKOFF_BASE_MS") {
            timing.baseBackoff = value
            timing.maximumBackoff = max(value * 64, value)
        }
        if let value = milliseconds("LEADLINE_ROUTER_CIRCUIT_COOLDOWN_MS") { timing.circuitCooldown = value }
        if let value = milliseconds("LEADLINE_ROUTER_HTTP_TIMEOUT_MS") {
            timing.requestTimeout = .milliseconds(Int64(value * 1000))
        }
        if let value = milliseconds("LEADLINE_ROUTER_MAX_ATTEMPTS_MS") { timing.maxAttemptsSecondsOverride = value }
        if let text = environment["LEADLINE_ROUTER_CONCURRENCY"], let value = Int(text), (1...512).contains(value) {
            timing.concurrency = value
        }
        return timing
    }
}
